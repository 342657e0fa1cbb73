/** A tiny HTTP server standing in for a Mesos master's `POST /api/v1` SUBSCRIBE, for stream-client tests. */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

export interface FakeMaster {
  address: string;
  /** SUBSCRIBE requests received so far. */
  connections(): number;
  /** Open streaming responses. */
  streams: Set<http.ServerResponse>;
  close(): Promise<void>;
}

export const frame = (event: unknown): string => {
  const json = JSON.stringify(event);
  return `${Buffer.byteLength(json)}\n${json}`;
};

/** Starts a server on 127.0.0.1:0 calling `handler` for each request (`n` counts from 1). */
export async function fakeMaster(handler: Handler): Promise<FakeMaster> {
  let n = 0;
  const streams = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    req.resume();
    n++;
    res.on("close", () => streams.delete(res));
    streams.add(res);
    handler(req, res, n);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    connections: () => n,
    streams,
    close: async () => {
      for (const s of streams) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Starts a RecordIO stream response. */
export function startStream(res: http.ServerResponse, ...events: unknown[]): void {
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  for (const e of events) res.write(frame(e));
}
