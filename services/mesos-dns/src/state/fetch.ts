/**
 * Reading the leading master's state (spec §2): a failover-aware fetch of
 * `GET /master/state` — ask the first master; if its state names another
 * leader, ask the leader (on the port of the master asked) and use that;
 * if the first fails, try the others in order. A state without `leader`
 * is an error.
 */

export interface FetchOptions {
  timeoutMs: number;
  /**
   * How long to wait for a master's response headers (default 2000 ms, capped
   * by timeoutMs): a master that is gone (SYN unanswered, EHOSTUNREACH after
   * seconds) must not hold up asking the next one. The body may then take up
   * to timeoutMs (`stateTimeoutSeconds`).
   */
  connectTimeoutMs?: number;
  /** `http` or `https`. */
  scheme: "http" | "https";
  /** Extra headers (basic auth). */
  headers?: Record<string, string>;
  fetchImpl?: typeof fetch;
}

export interface FetchedState {
  state: Record<string, unknown>;
  /** The master (`ip:port`) whose answer was used. */
  from: string;
}

function leaderIp(state: Record<string, unknown>): string | undefined {
  const leader = state["leader"];
  if (typeof leader !== "string" || !leader.includes("@")) return undefined;
  const hostPort = leader.slice(leader.indexOf("@") + 1);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(hostPort) ?? /^([^:]+):(\d+)$/.exec(hostPort);
  return m?.[1];
}

function splitHostPort(master: string): [string, string] {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(master) ?? /^(.*):(\d+)$/.exec(master);
  if (!m) throw new Error(`master "${master}" is not host:port`);
  return [m[1]!, m[2]!];
}

const hostForUrl = (host: string): string => (host.includes(":") ? `[${host}]` : host);

async function fetchOne(master: string, opts: FetchOptions): Promise<Record<string, unknown>> {
  const [host, port] = splitHostPort(master);
  const url = `${opts.scheme}://${hostForUrl(host)}:${port}/master/state`;
  const ac = new AbortController();
  const whole = setTimeout(() => ac.abort(new Error(`no complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  const connectMs = Math.min(opts.connectTimeoutMs ?? 2000, opts.timeoutMs);
  const headers = setTimeout(() => ac.abort(new Error(`no answer within ${connectMs} ms`)), connectMs);
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url, {
      headers: { "content-type": "application/json", "user-agent": "Mesos-DNS (dcnet)", ...opts.headers },
      signal: ac.signal,
    });
  } catch (err) {
    clearTimeout(whole);
    throw new Error(`${url}: ${ac.signal.aborted ? String((ac.signal.reason as Error).message) : (err as Error).message}`);
  } finally {
    clearTimeout(headers);
  }
  // Upstream ignores the status code and parses any body; a non-JSON body fails the reload.
  const text = await res.text().finally(() => clearTimeout(whole));
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, body is not JSON`);
  }
  if (typeof state !== "object" || state === null || Array.isArray(state)) throw new Error(`${url}: state is not a JSON object`);
  return state as Record<string, unknown>;
}

async function fetchFailoverAware(master: string, opts: FetchOptions): Promise<FetchedState> {
  const state = await fetchOne(master, opts);
  const ip = leaderIp(state);
  if (!ip) throw new Error(`${master}: state has no leader`);
  const [askedHost, askedPort] = splitHostPort(master);
  if (ip === askedHost) return { state, from: master };
  const leader = `${hostForUrl(ip)}:${askedPort}`;
  const fromLeader = await fetchOne(leader, opts);
  if (!leaderIp(fromLeader)) throw new Error(`${leader}: state has no leader`);
  return { state: fromLeader, from: leader };
}

/** Tries each master in order; all failing → one error listing every failure. */
export async function loadMasterState(masters: readonly string[], opts: FetchOptions): Promise<FetchedState> {
  const errors: string[] = [];
  for (const m of masters) {
    if (!m) continue;
    try {
      return await fetchFailoverAware(m, opts);
    } catch (err) {
      errors.push(`${m}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no master answered with a usable state (${errors.join("; ") || "no masters"})`);
}
