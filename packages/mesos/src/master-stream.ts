/**
 * Operator API SUBSCRIBE client keeping a live view of the leading master (spec dcos-net.md §2.1).
 *
 * Connects to the masters in order (`POST /api/v1 {"type":"SUBSCRIBE"}`); a master that is not the
 * leader answers 307, whose `Location` is followed (at most {@link MAX_HOPS} hops): only a 200
 * answer, which only the leader gives, is streamed from. The stream is RecordIO; the first record
 * must be SUBSCRIBED. Liveness: no record for 3 × `heartbeat_interval_seconds` (from SUBSCRIBED)
 * ends the stream. After SUBSCRIBED the readiness gate (see `readiness.ts`) decides when the view
 * is first published; each (re)subscription builds a new view from scratch, so consumers only see
 * complete views. A lost stream is reported, and retried with a jittered doubling backoff.
 */
import type { Logger } from "@dcnet/core";
import { Backoff, sleep } from "./backoff";
import { parseAgent } from "./entities";
import { isObj, obj, str } from "./json";
import { MasterViewState, type MasterView } from "./master-view";
import { Readiness } from "./readiness";
import { RecordIoDecoder, RecordIoError } from "./recordio";

export type { MasterView } from "./master-view";

export interface MasterStreamOptions {
  /** `ip:port` of each master (or a base URL `http://host:port`); tried in order. */
  masters: string[];
  logger: Logger;
  /** Extra request headers, e.g. `{authorization: "token=…"}`. */
  headers?: Record<string, string>;
  /** Readiness gating (DCOS_OSS-5463): after SUBSCRIBED with recovered agents, wait until they re-register or this many ms (default 600000), then settleMs more (default 10000). Tests pass small values. */
  recoveryTimeoutMs?: number;
  settleMs?: number;
  /** Reconnect backoff: from retryMinMs (default 2000) doubling to retryMaxMs (default 30000), ±25 % jitter. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Time allowed for a master to answer SUBSCRIBE with its headers (default 10000). */
  connectTimeoutMs?: number;
}

export interface MasterStream {
  start(): void;
  stop(): Promise<void>;
  /** Called with the complete view once the (re)subscription is ready (after gating), then after every event that changed the view. `leader` = "ip:port" of the master streamed from. Never called with a half-built view after a reconnect. */
  onChange(cb: (view: MasterView, leader: string) => void): void;
  /** Called when the stream is lost (the consumer must NOT flush what it has; spec §3.7 last bullet). */
  onLost(cb: () => void): void;
  /** The last view published (kept across a lost stream until the next one is ready). */
  current(): { view: MasterView; leader: string } | undefined;
  /** True while streaming from the leader with a published view (false while reconnecting or gating). */
  live(): boolean;
}

/** Redirects followed from one master before trying the next. */
const MAX_HOPS = 3;

const DEFAULTS = { recoveryTimeoutMs: 600_000, settleMs: 10_000, retryMinMs: 2000, retryMaxMs: 30_000, connectTimeoutMs: 10_000 };

interface Connection {
  body: AsyncIterable<Uint8Array>;
  leader: string;
  abort: AbortController;
}

class LivenessError extends Error {}

function baseUrl(master: string): string {
  return /^https?:\/\//.test(master) ? master.replace(/\/+$/, "") : `http://${master}`;
}

/** `host:port` of a URL (the port even when it is the scheme's default). */
function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

export function createMasterStream(opts: MasterStreamOptions): MasterStream {
  const o = {
    recoveryTimeoutMs: opts.recoveryTimeoutMs ?? DEFAULTS.recoveryTimeoutMs,
    settleMs: opts.settleMs ?? DEFAULTS.settleMs,
    retryMinMs: opts.retryMinMs ?? DEFAULTS.retryMinMs,
    retryMaxMs: opts.retryMaxMs ?? DEFAULTS.retryMaxMs,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
  };
  const log = opts.logger.child({ component: "mesos-master-stream" });
  const headers = {
    "content-type": "application/json",
    accept: "application/json",
    "user-agent": `dcnet-mesos (pid ${process.pid})`,
    ...opts.headers,
  };
  const changeCbs: ((view: MasterView, leader: string) => void)[] = [];
  const lostCbs: (() => void)[] = [];
  let published: { view: MasterView; leader: string } | undefined;
  let isLive = false;
  let stopper: AbortController | undefined;
  let current: AbortController | undefined;
  let loop: Promise<void> | undefined;

  const safely = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      log.error({ err }, `mesos: ${what} callback failed`);
    }
  };

  /** Why each master did not give a stream, this round (for the warning when none did). */
  const failures = new Map<string, string>();

  /** SUBSCRIBE at `url`, following redirects; the open stream, or undefined. */
  async function open(master: string, stop: AbortSignal): Promise<Connection | undefined> {
    let url = `${baseUrl(master)}/api/v1`;
    for (let hop = 0; hop <= MAX_HOPS && !stop.aborted; hop++) {
      const abort = new AbortController();
      current = abort;
      const timer = setTimeout(() => abort.abort(new Error(`no answer within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers,
          body: JSON.stringify({ type: "SUBSCRIBE" }),
          redirect: "manual",
          signal: abort.signal,
        });
      } catch (err) {
        // fetch says "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND…).
        const why =
          (abort.signal.reason as Error | undefined)?.message ??
          ((err as Error).cause as Error | undefined)?.message ??
          (err as Error).message;
        failures.set(master, why);
        log.debug({ url, err: why }, "mesos: SUBSCRIBE failed");
        return undefined;
      } finally {
        clearTimeout(timer);
      }
      if (res.status === 200 && res.body) return { body: res.body as unknown as AsyncIterable<Uint8Array>, leader: hostPort(url), abort };
      await res.body?.cancel().catch(() => undefined);
      abort.abort();
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        log.debug({ url, location }, "mesos: not the leading master; following its redirect");
        url = new URL(location, url).toString();
        continue;
      }
      failures.set(master, `HTTP ${res.status}`);
      log.debug({ url, status: res.status }, "mesos: SUBSCRIBE refused");
      return undefined;
    }
    return undefined;
  }

  /** Reads one stream until it ends; true when it got as far as SUBSCRIBED. */
  async function follow(conn: Connection): Promise<boolean> {
    const state = new MasterViewState(log);
    const decoder = new RecordIoDecoder();
    let readiness: Readiness | undefined;
    let liveness: NodeJS.Timeout | undefined;
    const alive = (): void => {
      clearTimeout(liveness);
      const ms = 3 * state.heartbeatSeconds * 1000;
      liveness = setTimeout(() => conn.abort.abort(new LivenessError(`no record from the master for ${ms} ms`)), ms);
    };
    const publish = (): void => {
      const p = { view: state.snapshot(), leader: conn.leader };
      published = p;
      for (const cb of changeCbs) safely("onChange", () => cb(p.view, p.leader));
    };
    try {
      for await (const chunk of conn.body) {
        for (const record of decoder.push(chunk)) {
          let event: unknown;
          try {
            event = JSON.parse(record);
          } catch {
            throw new RecordIoError(`record is not JSON: ${record.slice(0, 80)}`);
          }
          if (!isObj(event)) throw new RecordIoError("record is not a JSON object");
          const type = str(event["type"]);
          if (!readiness) {
            if (type !== "SUBSCRIBED") throw new RecordIoError(`expected SUBSCRIBED first, got ${JSON.stringify(type)}`);
            state.apply(event);
            alive();
            log.info(
              {
                leader: conn.leader,
                agents: state.agents.size,
                frameworks: state.frameworks.size,
                tasks: state.tasks.size,
                recovered: state.recoveredAgents.length,
              },
              "mesos: subscribed to the leading master",
            );
            readiness = new Readiness(
              state.recoveredAgents,
              o,
              () => {
                isLive = true;
                publish();
              },
              (missing) => log.warn({ missing }, "mesos: recovered agents did not re-register in time; publishing without them"),
            );
            readiness.start();
            continue;
          }
          alive();
          const changed = state.apply(event);
          if (type === "AGENT_ADDED") {
            const id = parseAgent(obj(event["agent_added"])?.["agent"])?.id;
            if (id !== undefined) readiness.agentAdded(id);
          }
          if (changed && readiness.isReady()) publish();
        }
      }
      log.warn({ leader: conn.leader }, "mesos: the master ended the stream");
    } catch (err) {
      const reason: unknown = conn.abort.signal.aborted ? conn.abort.signal.reason : err;
      if (!stopper?.signal.aborted)
        log.warn({ leader: conn.leader, err: (reason as Error)?.message ?? String(reason) }, "mesos: stream lost");
    } finally {
      clearTimeout(liveness);
      readiness?.cancel();
      isLive = false;
      conn.abort.abort();
    }
    return readiness !== undefined;
  }

  async function run(stop: AbortSignal): Promise<void> {
    const backoff = new Backoff(o.retryMinMs, o.retryMaxMs);
    /** Whether this run of rounds without a leader has been warned about (once, not every round). */
    let noLeaderWarned = false;
    while (!stop.aborted) {
      let conn: Connection | undefined;
      failures.clear();
      for (const m of opts.masters) {
        conn = await open(m, stop);
        if (conn || stop.aborted) break;
      }
      if (conn) {
        noLeaderWarned = false;
        const established = await follow(conn);
        if (stop.aborted) return;
        if (established) {
          backoff.reset();
          for (const cb of lostCbs) safely("onLost", cb);
        }
      } else if (!stop.aborted) {
        const reasons = Object.fromEntries(failures);
        if (noLeaderWarned) log.debug({ reasons }, "mesos: no leading master reachable");
        else log.warn({ reasons }, "mesos: no leading master reachable (retrying with backoff; warned once until one answers)");
        noLeaderWarned = true;
      }
      await sleep(backoff.delay(), stop);
    }
  }

  return {
    start() {
      if (loop) return;
      stopper = new AbortController();
      const stop = stopper.signal;
      loop = run(stop).catch((err: unknown) => log.error({ err }, "mesos: master stream failed"));
    },
    async stop() {
      stopper?.abort();
      current?.abort();
      await loop;
      loop = undefined;
      isLive = false;
    },
    onChange(cb) {
      changeCbs.push(cb);
    },
    onLost(cb) {
      lostCbs.push(cb);
    },
    current: () => published,
    live: () => isLive,
  };
}
