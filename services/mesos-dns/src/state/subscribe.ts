import type { Logger } from "@dcnet/core";
import { LiveTasks, type TaskEvent } from "./live-tasks";
import { masterRequest, readBody, type MasterTransport } from "./master-http";
import { RecordReader } from "./recordio";

/**
 * Beyond upstream: when the leading master offers the v1 Operator API
 * `SUBSCRIBE` stream (Mesos ≥ 1.1 and mesos-sim do), every event that can change
 * the records (live-tasks.ts: a task entering or leaving TASK_RUNNING, agent
 * and framework events) triggers an immediate reload, so a task is resolvable
 * within milliseconds of TASK_RUNNING instead of up to `refreshSeconds` later. The
 * periodic refresh stays as the safety net. Reconnects with a backoff; a master
 * without the API is asked again after `retryMs`. Liveness: a stream with no
 * record for 3 × `heartbeat_interval_seconds` (from SUBSCRIBED; 15 s if absent)
 * is dropped and reported lost, so a master that vanished without closing the
 * connection (rebooted, partitioned) does not leave the stream silent for good.
 */
/** Mesos' default `heartbeat_interval_seconds`, for a SUBSCRIBED that does not say. */
const DEFAULT_HEARTBEAT_MS = 15_000;

export class StateSubscription {
  private abort: AbortController | undefined;
  private stopped = false;
  private current: string | undefined;

  constructor(
    private readonly opts: {
      /** The state fetch's transport: same scheme, TLS options and authentication. */
      transport: MasterTransport;
      /** Every event but HEARTBEAT, with what it means for the records. */
      onEvent: (type: string, what: TaskEvent) => void;
      /** The stream to the followed master ended or failed (its master may be gone: reload to find the leader). */
      onLost?: () => void;
      log: Logger;
      retryMs?: number;
      /** Bound on the login and the response headers of each SUBSCRIBE (default 300 s: `stateTimeoutSeconds`). */
      setupTimeoutMs?: number;
    },
  ) {}

  /** Follows `master` (`ip:port`); a different master ends the old stream. */
  follow(master: string): void {
    if (this.current === master || this.stopped) return;
    this.current = master;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    void this.loop(master, ac.signal);
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async loop(master: string, signal: AbortSignal): Promise<void> {
    let backoff = 500;
    while (!signal.aborted) {
      try {
        await this.stream(master, signal);
        backoff = 500;
      } catch (err) {
        if (signal.aborted) return;
        this.opts.log.debug({ err: (err as Error).message, master }, "state subscription ended");
      }
      if (signal.aborted) return;
      this.opts.onLost?.();
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, this.opts.retryMs ?? 30_000);
    }
  }

  private async stream(master: string, signal: AbortSignal): Promise<void> {
    const { transport } = this.opts;
    // The login and the response headers within setupTimeoutMs (stateTimeoutSeconds); the stream itself has no bound.
    const setupMs = this.opts.setupTimeoutMs ?? 300_000;
    const setup = new AbortController();
    const timer = setTimeout(() => setup.abort(new Error(`SUBSCRIBE: no answer within ${setupMs} ms`)), setupMs);
    let res;
    try {
      const both = AbortSignal.any([signal, setup.signal]);
      const authorization = await transport.authorization(both);
      const body = JSON.stringify({ type: "SUBSCRIBE" });
      res = await masterRequest(transport, new URL(`${transport.scheme}://${master}/api/v1`), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "content-length": String(Buffer.byteLength(body)),
          ...(authorization !== undefined ? { authorization } : {}),
        },
        body,
        signal: both,
      });
    } finally {
      clearTimeout(timer);
    }
    if (res.statusCode !== 200) {
      await readBody(res).catch(() => "");
      throw new Error(`SUBSCRIBE: HTTP ${res.statusCode}`);
    }
    // Per stream: a new stream starts with SUBSCRIBED, which sets the running tasks afresh.
    const tasks = new LiveTasks();
    let heartbeatMs = DEFAULT_HEARTBEAT_MS;
    let liveness: NodeJS.Timeout | undefined;
    const alive = (): void => {
      clearTimeout(liveness);
      const ms = 3 * heartbeatMs;
      liveness = setTimeout(() => res.destroy(new Error(`SUBSCRIBE: no record from the master for ${ms} ms`)), ms);
    };
    alive();
    try {
      await this.read(res, tasks, (ms) => {
        if (ms !== undefined) heartbeatMs = ms;
        alive();
      });
    } finally {
      clearTimeout(liveness);
    }
  }

  /**
   * Reads the RecordIO stream (framing: recordio.ts, which keeps a long record — SUBSCRIBED carries
   * the whole state, tens of MB in a big cluster — as its chunks and joins it once); `onRecord`
   * after each record, with the heartbeat interval (ms) SUBSCRIBED gives.
   */
  private async read(res: AsyncIterable<Buffer>, tasks: LiveTasks, onRecord: (heartbeatMs?: number) => void): Promise<void> {
    const reader = new RecordReader();
    for await (const chunk of res) {
      for (const record of reader.push(chunk)) {
        const event = JSON.parse(record) as { type?: unknown; subscribed?: { heartbeat_interval_seconds?: unknown } } | null;
        const type = typeof event?.type === "string" ? event.type : "";
        const hb = type === "SUBSCRIBED" ? event?.subscribed?.heartbeat_interval_seconds : undefined;
        onRecord(typeof hb === "number" && hb > 0 && Number.isFinite(hb) ? hb * 1000 : undefined);
        const what = tasks.take(event);
        if (type !== "HEARTBEAT") this.opts.onEvent(type, what);
      }
    }
  }
}
