import type * as http from "node:http";

/** Small helpers for the simulator's HTTP APIs (Mesos master, Marathon). */

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(307, { location, "content-length": 0 });
  res.end();
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body["message"] === "string" ? body["message"] : `HTTP ${status}`);
  }
}

/** Reads a JSON body (≤ 1 MiB). Malformed JSON → HttpError 400 with the parser's reason. */
export async function readJson(req: http.IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, { message: `request body larger than ${limit} bytes` });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, { message: `request body is not valid JSON: ${(err as Error).message}` });
  }
}

/**
 * `path?query` → [decoded path, URLSearchParams]. The target is origin-form: `//x/…` is a path, not
 * an authority. A target that is not a URL path or a path that is not valid percent-encoding →
 * HttpError 400 naming it.
 */
export function splitUrl(url: string | undefined): [string, URLSearchParams] {
  const target = url ?? "/";
  let u: URL;
  try {
    u = new URL(target.startsWith("/") ? `http://x${target}` : target);
  } catch {
    throw new HttpError(400, { message: `the request target ${JSON.stringify(target)} is not a URL path` });
  }
  try {
    return [decodeURIComponent(u.pathname), u.searchParams];
  } catch {
    throw new HttpError(400, { message: `the path ${JSON.stringify(u.pathname)} is not valid percent-encoding` });
  }
}

/** Frames one RecordIO record: `<byte length>\n<json>`. */
export function recordIo(obj: unknown): string {
  const json = JSON.stringify(obj);
  return `${Buffer.byteLength(json)}\n${json}`;
}
