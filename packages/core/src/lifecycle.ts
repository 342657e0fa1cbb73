import type { Logger } from "pino";

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts components in order and stops them in reverse order. If a start
 * fails, what already started is stopped again before the error is thrown.
 */
export class Lifecycle {
  private readonly components: Component[] = [];
  private started: Component[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  add(name: string, start: () => Promise<void>, stop: () => Promise<void>): this {
    this.components.push({ name, start, stop });
    return this;
  }

  async start(): Promise<void> {
    for (const c of this.components) {
      try {
        await c.start();
        this.started.push(c);
      } catch (err) {
        this.log.error({ err, component: c.name }, "start failed");
        await this.stop();
        throw err;
      }
    }
  }

  /** Idempotent: a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of [...this.started].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          this.log.warn({ err, component: c.name }, "stop failed");
        }
      }
      this.started = [];
    })();
    return this.stopping;
  }
}
