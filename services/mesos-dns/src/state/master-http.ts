import * as http from "node:http";
import * as https from "node:https";

/**
 * How mesos-dns talks to the masters (spec §2), shared by the state fetch, the
 * Operator API stream and the IAM login: `http`, or `https` when
 * `mesosHTTPSOn` — the master's certificate verified against `caCertFile`
 * when given and, as upstream, not verified otherwise; a client certificate
 * when `certFile` + `keyFile` are given; the `Authorization` header of
 * `mesosAuthentication`. Keep-alives are off (a new connection per request,
 * `Connection: close`), as upstream.
 */
export interface MasterTransport {
  readonly scheme: "http" | "https";
  /** TLS options of every https request (to a master or to the IAM login endpoint). */
  readonly tls: Readonly<https.RequestOptions>;
  /** The `Authorization` header value for one request, if any: basic credentials, or a fresh IAM token (a login per request, as upstream). */
  authorization(signal?: AbortSignal): Promise<string | undefined>;
}

/** Plain http, no authentication. */
export const PLAIN_HTTP: MasterTransport = { scheme: "http", tls: {}, authorization: async () => undefined };

export interface MasterRequest {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Aborting fails the request, or the response body being read, with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Bound on the TCP connect and the TLS handshake only (a master that is gone must not hold up
   * asking the next one); the rest of the request is bounded by `signal`. Default 2000 ms.
   */
  connectTimeoutMs?: number;
}

/** Codes of Node's certificate verification failures (OpenSSL's X509_V_ERR_* names, and the host name check). */
const CERT_ERROR = /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED|X509/;

function describe(err: NodeJS.ErrnoException): Error {
  if (err.code && CERT_ERROR.test(err.code)) return new Error(`TLS certificate verification failed: ${err.code}: ${err.message}`);
  return err;
}

const reasonOf = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted"));

/**
 * One request with `transport`'s TLS options, no connection reuse. Resolves with the response
 * (any status: the caller decides), whose body the caller reads; `signal` still applies to it.
 */
export function masterRequest(transport: Pick<MasterTransport, "tls">, url: URL, o: MasterRequest = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const signal = o.signal;
    if (signal?.aborted) return reject(reasonOf(signal));
    const secure = url.protocol === "https:";
    const options: https.RequestOptions = {
      method: o.method ?? "GET",
      headers: o.headers,
      // A fresh agent per request: keep-alives disabled (Connection: close), as upstream.
      agent: false,
      ...(secure ? transport.tls : {}),
    };
    let response: http.IncomingMessage | undefined;
    const req = (secure ? https : http).request(url, options, (res) => {
      response = res;
      res.once("close", () => signal?.removeEventListener("abort", onAbort));
      resolve(res);
    });
    const onAbort = (): void => {
      const err = reasonOf(signal!);
      if (response) response.destroy(err);
      else req.destroy(err);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const connectMs = o.connectTimeoutMs ?? 2000;
    const connectTimer = setTimeout(() => req.destroy(new Error(`no ${secure ? "TLS " : ""}connection within ${connectMs} ms`)), connectMs);
    req.once("socket", (socket) => {
      socket.once(secure ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
    });
    req.once("close", () => clearTimeout(connectTimer));
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      signal?.removeEventListener("abort", onAbort);
      reject(describe(err));
    });
    req.end(o.body);
  });
}

/** The whole body of `res` as text (an abort of the request's signal fails it). */
export async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
