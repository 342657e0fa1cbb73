import { promises as dnsp } from "node:dns";
import { setTimeout as sleep } from "node:timers/promises";
import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import * as os from "node:os";
import { coalesce, counter, gauge, histogram, type Logger, type Registry } from "@dcnet/core";
import type { MesosDnsConfig, RecordSet } from "../model";
import { generateRecords, type GenerateOptions } from "../records/generator";
import { parsePid } from "../records/state";
import { loadMasterState } from "./fetch";
import type { MasterTransport } from "./master-http";
import { masterTransport } from "./master-transport";
import { stateBasis, withoutStoppedTask, withRunningTask } from "./incremental";
import type { RunningTask, StoppedTask } from "./live-tasks";
import { StateSubscription } from "./subscribe";

export interface Generation {
  readonly set: RecordSet;
  /** SOA serial: Unix time of this reload (strictly increasing). */
  readonly serial: number;
  /** The master whose state was used. */
  readonly from: string;
  readonly at: number;
}

/** Hosts named in PIDs / hostnames that are not IP literals (they need a lookup). */
function hostsToResolve(state: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const pidHost = (pid: unknown): string | undefined => {
    if (typeof pid !== "string") return undefined;
    try {
      return parsePid(pid).host;
    } catch {
      return undefined;
    }
  };
  const add = (h: string | undefined): void => {
    if (h && !isIP(h)) out.add(h);
  };
  for (const s of Array.isArray(state["slaves"]) ? (state["slaves"] as Record<string, unknown>[]) : []) add(pidHost(s?.["pid"]));
  for (const f of Array.isArray(state["frameworks"]) ? (state["frameworks"] as Record<string, unknown>[]) : []) {
    // As state.ts: a null pid is an absent one (the framework's hostname is used).
    const pid = f?.["pid"];
    add(pid !== undefined && pid !== null ? pidHost(pid) : typeof f?.["hostname"] === "string" ? (f["hostname"] as string) : undefined);
  }
  return [...out];
}

/** Tasks added (and, apart, tasks removed) from events that a reload has not confirmed yet, at most. */
const MAX_PENDING = 10_000;

/** `list` with `entry` appended; the oldest dropped beyond MAX_PENDING. */
function pending<T>(list: T[], entry: T): T[] {
  list.push(entry);
  // Pruned by every successful reload; bounded for a master whose state keeps failing to load.
  if (list.length > MAX_PENDING) list.shift();
  return list;
}

/** A task event's change to a record set, given a state and host addresses; undefined when it cannot be worked out. */
type TaskChange = (set: RecordSet, state: unknown, opts: GenerateOptions) => RecordSet | undefined;

/** `mesos_dns_incremental_updates_total` results of adding and of removing a task's records. */
const RESULTS = {
  add: { done: "added", same: "already_served", failed: "not_added" },
  remove: { done: "removed", same: "already_removed", failed: "not_removed" },
} as const;

/** A SOA serial: the Unix time, or one more than the last when that is not later. */
const nextSerial = (last: number): number => Math.max(Math.floor(Date.now() / 1000), last + 1);

/** The records of one type: every value of every name. */
function countValues(map: ReadonlyMap<string, readonly string[]>): number {
  let n = 0;
  for (const values of map.values()) n += values.length;
  return n;
}

/** Non-loopback addresses of this host (the name-server record for listener 0.0.0.0). */
export function listenerIps(): string[] {
  return Object.values(os.networkInterfaces())
    .flatMap((a) => a ?? [])
    .filter((a) => !a.internal)
    .map((a) => a.address);
}

/**
 * The refresh loop (spec §1): reload every `refreshSeconds` (and at once on a
 * master event, see subscribe.ts); each reload fetches the state, builds a
 * complete new record set and swaps it in; a failed reload keeps serving the
 * previous set. Emits "generation" after every successful swap.
 */
export class Reloader extends EventEmitter {
  current: Generation | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Immediate | undefined;
  private readonly subscription: StateSubscription;
  private readonly transport: MasterTransport;
  private readonly metrics;

  constructor(
    private readonly cfg: MesosDnsConfig,
    private readonly opts: { log: Logger; registry: Registry; subscribe?: boolean },
  ) {
    super();
    // Reads caCertFile, certFile, keyFile and IAMConfigFile: an unreadable one fails the start, naming its key.
    this.transport = masterTransport(cfg);
    this.subscription = new StateSubscription({
      transport: this.transport,
      setupTimeoutMs: cfg.stateTimeoutSeconds * 1000,
      log: opts.log,
      onEvent: (type, { relevant, running, stopped, removal }) => {
        this.metrics.events.inc({ type, reload: relevant ? "yes" : "no" });
        if (running) this.addRunning(running);
        if (stopped !== undefined) this.removeStopped(stopped, removal);
        if (relevant) this.soon();
      },
      onLost: () => this.recover(),
    });
    this.metrics = {
      duration: histogram(
        opts.registry,
        "mesos_dns_refresh_duration_seconds",
        "State fetch + record generation time",
        [],
        [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      ),
      failures: counter(opts.registry, "mesos_dns_refresh_failures_total", "Reloads that kept the previous record set", []),
      reloads: counter(opts.registry, "mesos_dns_refresh_total", "Successful reloads", ["trigger"]),
      records: gauge(opts.registry, "mesos_dns_records", "Records (name and value pairs) in the served record set, by type", ["type"]),
      incremental: counter(
        opts.registry,
        "mesos_dns_incremental_updates_total",
        "Tasks added to (TASK_RUNNING) or removed from (leaving TASK_RUNNING) the served records from their event, before the reload it triggers, by result",
        ["result"],
      ),
      events: counter(
        opts.registry,
        "mesos_dns_master_events_total",
        "Operator API events from the leading master, by type and whether they triggered a reload",
        ["type", "reload"],
      ),
    };
  }

  /** Resolves after the first successful reload (retrying every second until then). */
  async start(): Promise<void> {
    for (;;) {
      await this.reload("start");
      if (this.stopped) throw new Error("stopped before the first successful reload");
      if (this.current) break;
      await sleep(1000, undefined, { signal: this.stopper.signal }).catch(() => undefined);
    }
    this.timer = setInterval(() => void this.reload("timer"), this.cfg.refreshSeconds * 1000);
    this.timer.unref();
  }

  /**
   * The followed master's stream is gone: reload now, then after 1 s, 2 s, 4 s …
   * (at most `refreshSeconds`, the periodic reload's own pace) until a reload
   * succeeds, so records follow a new leader at once instead of at the next
   * refresh, without asking masters that are all down once a second.
   */
  private recover(): void {
    if (this.recovering || this.stopped) return;
    this.recovering = true;
    const before = this.current;
    let delayMs = 1000;
    const attempt = (): void => {
      void this.reload("stream-lost").then(() => {
        if (this.stopped || this.current !== before) {
          this.recovering = false;
          return;
        }
        this.recoverTimer = setTimeout(attempt, delayMs);
        delayMs = Math.min(delayMs * 2, this.cfg.refreshSeconds * 1000);
      });
    };
    attempt();
  }

  private recovering = false;
  private stopped = false;
  private readonly stopper = new AbortController();
  private recoverTimer: NodeJS.Timeout | undefined;

  stop(): void {
    this.stopped = true;
    this.stopper.abort();
    if (this.recoverTimer) clearTimeout(this.recoverTimer);
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearImmediate(this.debounce);
    this.subscription.stop();
  }

  /** The last reload's state and host addresses: what a task event is turned into records with. */
  private basis: { state: unknown; resolveHost: (h: string) => readonly string[] } | undefined;
  /**
   * Tasks added and tasks removed from events, with the event sequence number of each. Kept until
   * a reload whose state was fetched after the event: a reload already under way re-applies them,
   * in the order of their events, so it neither takes an added task away nor brings a stopped one
   * back.
   */
  private changes: { seq: number; key: string; change: TaskChange }[] = [];
  private eventSeq = 0;

  /** A task's latest event replaces what an earlier one of it left pending (a stop cancels an add, a restart a removal). */
  private keep(key: string, change: TaskChange | undefined): void {
    this.changes = this.changes.filter((c) => c.key !== key);
    if (change) this.changes = pending(this.changes, { seq: ++this.eventSeq, key, change });
  }

  /** A task reached TASK_RUNNING: serve its records now (incremental.ts), ahead of the reload the event also triggers. */
  private addRunning(t: RunningTask): void {
    const change: TaskChange = (set, state, o) => withRunningTask(set, state, t, this.cfg, o);
    this.keep(t.key, this.applyNow(RESULTS.add, change) ? change : undefined);
  }

  /**
   * A task left TASK_RUNNING: remove the values only it gave now (incremental.ts), ahead of the
   * reload the event also triggers. `removal` is undefined when the stream does not know the task
   * or a running task of its framework well enough: the reload removes it.
   */
  private removeStopped(key: string, removal: StoppedTask | undefined): void {
    // A stopped task is not put back by a reload whose state predates its stop.
    if (removal === undefined) {
      this.keep(key, undefined);
      if (this.current !== undefined) this.metrics.incremental.inc({ result: RESULTS.remove.failed });
      return;
    }
    const change: TaskChange = (set, state, o) => withoutStoppedTask(set, state, removal.task, removal.siblings, this.cfg, o);
    // Kept even when the last state cannot place it: a reload under way may know its framework and agent.
    this.keep(key, change);
    this.applyNow(RESULTS.remove, change);
  }

  /**
   * `change` applied to the served set with the last reload's state and host addresses, published
   * as a new generation when it changed something; counted by result. False when it could not be
   * worked out (no reload yet, the state does not know the task's framework or agent, an error).
   */
  private applyNow(results: (typeof RESULTS)[keyof typeof RESULTS], change: TaskChange): boolean {
    const cur = this.current;
    if (cur === undefined || this.basis === undefined) return false;
    let set: RecordSet | undefined;
    try {
      set = change(cur.set, this.basis.state, { resolveHost: this.basis.resolveHost, listenerIps });
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, `task event: records not ${results.done} (the reload will)`);
    }
    if (set === undefined) {
      this.metrics.incremental.inc({ result: results.failed });
      return false;
    }
    if (set === cur.set) {
      this.metrics.incremental.inc({ result: results.same });
      return true;
    }
    this.metrics.incremental.inc({ result: results.done });
    this.current = { set, serial: nextSerial(cur.serial), from: cur.from, at: Date.now() };
    this.publish();
    return true;
  }

  /** Announces `current` (a reload's or an event's): the records gauge, then "generation". */
  private publish(): void {
    const { set } = this.current!;
    this.metrics.records.set({ type: "A" }, countValues(set.a));
    this.metrics.records.set({ type: "AAAA" }, countValues(set.aaaa));
    this.metrics.records.set({ type: "SRV" }, countValues(set.srv));
    this.emit("generation", this.current);
  }

  /** `records` with the adds and removals of events later than its state, in the order of their events. */
  private replay(records: RecordSet, state: unknown, o: GenerateOptions): RecordSet {
    // `changes` is in event order: appended, and a task's newer event replaces its older one.
    for (const c of this.changes) records = c.change(records, state, o) ?? records;
    return records;
  }

  /**
   * A reload once the events already read are taken (those of one chunk of the stream make one
   * reload); events during a reload make exactly one more (coalesce). No timer: a task's
   * TASK_RUNNING starts its reload at once.
   */
  private soon(): void {
    this.debounce ??= setImmediate(() => {
      this.debounce = undefined;
      void this.reload("event");
    });
  }

  /** Coalescing: a request during a reload causes exactly one more. */
  reload(trigger: string): Promise<void> {
    this.lastTrigger = trigger;
    return this.coalesced();
  }

  private lastTrigger = "start";
  /** Reloads failed since the last one that succeeded, and when the last of them was logged as a warning. */
  private failedInARow = 0;
  private lastFailureWarnAt = 0;
  private readonly coalesced = coalesce(() => this.reloadOnce(this.lastTrigger));

  private async reloadOnce(trigger: string): Promise<void> {
    const end = this.metrics.duration.startTimer();
    // Tasks added or removed from events up to here are so in the state fetched below; later ones may not be.
    const seen = this.eventSeq;
    try {
      const { state, from } = await loadMasterState(this.cfg.masters, {
        timeoutMs: this.cfg.stateTimeoutSeconds * 1000,
        transport: this.transport,
      });
      const resolved = new Map<string, string[]>();
      await Promise.all(
        hostsToResolve(state).map(async (h) => {
          const addrs = await dnsp.lookup(h, { all: true }).catch(() => []);
          resolved.set(
            h,
            addrs.map((a) => a.address),
          );
        }),
      );
      const resolveHost = (h: string): readonly string[] => resolved.get(h) ?? [];
      const generated = generateRecords(state, this.cfg, { resolveHost, listenerIps });
      for (const w of generated.warnings) this.opts.log.warn({ warning: w }, "record generation");
      let records = generated.records;
      this.changes = this.changes.filter((c) => c.seq > seen);
      records = this.replay(records, state, { resolveHost, listenerIps });
      this.basis = { state: stateBasis(state), resolveHost };
      const serial = nextSerial(this.current?.serial ?? 0);
      this.current = { set: records, serial, from, at: Date.now() };
      this.metrics.reloads.inc({ trigger });
      if (this.failedInARow > 0) this.opts.log.info({ failedInARow: this.failedInARow, from }, "records reloaded again");
      this.failedInARow = 0;
      this.lastFailureWarnAt = 0;
      this.publish();
      if (this.opts.subscribe ?? true) this.subscription.follow(from);
    } catch (err) {
      this.metrics.failures.inc();
      this.failedInARow++;
      // While the masters stay down: a warning at most once per refreshSeconds (the rest at debug).
      const now = Date.now();
      const warn = now - this.lastFailureWarnAt >= this.cfg.refreshSeconds * 1000;
      if (warn) this.lastFailureWarnAt = now;
      this.opts.log[warn ? "warn" : "debug"](
        { err: (err as Error).message, failedInARow: this.failedInARow },
        "Error generating records; keeping old DNS state",
      );
    } finally {
      end();
    }
  }
}
