/**
 * Reading the leading master's state (spec §2): a failover-aware fetch of
 * `GET /master/state` — ask the first master; if its state names another
 * leader, ask the leader (on the port of the master asked) and use that;
 * if the first fails, try the others in order. A state without `leader`
 * is an error.
 */
import { masterRequest, PLAIN_HTTP, readBody, type MasterTransport } from "./master-http";

export interface FetchOptions {
  /** The whole request — IAM login, connect, headers and body — within this (`stateTimeoutSeconds`), as upstream. */
  timeoutMs: number;
  /**
   * Bound on the TCP connect and TLS handshake of each request only (default 2000 ms, capped by
   * timeoutMs): a master that is gone (SYN unanswered, EHOSTUNREACH after seconds) must not hold up
   * asking the next one. Not upstream (Go's default dialer has none).
   */
  connectTimeoutMs?: number;
  /** http or https, TLS options and authentication (master-http.ts); default plain http. */
  transport?: MasterTransport;
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

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

async function fetchOne(master: string, opts: FetchOptions): Promise<Record<string, unknown>> {
  const transport = opts.transport ?? PLAIN_HTTP;
  const [host, port] = splitHostPort(master);
  const url = `${transport.scheme}://${hostForUrl(host)}:${port}/master/state`;
  const ac = new AbortController();
  const whole = setTimeout(
    () => ac.abort(new Error(`no complete answer within ${opts.timeoutMs} ms (stateTimeoutSeconds)`)),
    opts.timeoutMs,
  );
  let status: number | undefined;
  let text = "";
  try {
    const authorization = await transport.authorization(ac.signal);
    let target = new URL(url);
    for (let redirects = 0; ; redirects++) {
      const res = await masterRequest(transport, target, {
        headers: {
          "content-type": "application/json",
          "user-agent": "Mesos-DNS (dcnet)",
          // As Go's client: credentials are not sent on to another host.
          ...(authorization !== undefined && target.host === new URL(url).host ? { authorization } : {}),
        },
        signal: ac.signal,
        connectTimeoutMs: Math.min(opts.connectTimeoutMs ?? 2000, opts.timeoutMs),
      });
      status = res.statusCode;
      text = await readBody(res);
      // Go's client follows redirects (up to 10): a non-leading Mesos master redirects /master/state to the leader (307, `Location: //ip:port/master/state`).
      const location = res.headers.location;
      if (status === undefined || !REDIRECTS.has(status) || location === undefined) break;
      if (redirects === 10) throw new Error(`stopped after 10 redirects`);
      target = new URL(location, target);
    }
  } catch (err) {
    throw new Error(`${url}: ${(err as Error).message}`);
  } finally {
    clearTimeout(whole);
  }
  // Upstream ignores the status code and parses any body; a non-JSON body fails the reload.
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${status}, body is not JSON`);
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
