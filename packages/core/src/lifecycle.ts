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
  /** The component whose start() is under way. */
  private starting: Component | undefined;

  constructor(private readonly log: Logger) {}

  add(name: string, start: () => Promise<void>, stop: () => Promise<void>): this {
    this.components.push({ name, start, stop });
    return this;
  }

  /**
   * A stop() while a component is still starting (a first reload waiting for the masters) stops
   * that one too, so its start can give up; none of the rest is started, and start() rejects.
   */
  async start(): Promise<void> {
    for (const c of this.components) {
      if (this.stopping) throw new Error(`stopped while starting (before ${c.name})`);
      this.starting = c;
      try {
        await c.start();
      } catch (err) {
        this.starting = undefined;
        if (this.stopping) throw err;
        this.log.error({ err, component: c.name }, "start failed");
        await this.stop();
        throw err;
      } finally {
        this.starting = undefined;
      }
      if (this.stopping) {
        // Its start finished after stop() had stopped it: stop it again, for what the start did since.
        await this.stopping;
        await c.stop().catch((err: unknown) => this.log.debug({ err, component: c.name }, "second stop failed"));
        throw new Error(`stopped while starting ${c.name}`);
      }
      this.started.push(c);
    }
  }

  /** Idempotent: a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const starting = this.starting;
      for (const c of [...(starting ? [starting] : []), ...[...this.started].reverse()]) {
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
