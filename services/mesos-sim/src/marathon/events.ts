import type * as http from "node:http";

/**
 * Marathon's event stream, `GET /v2/events` (Server-Sent Events): each event
 * is `event: <eventType>` + `data: <json>`. `?event_type=a&event_type=b`
 * filters. A comment line every 15 s keeps idle connections open.
 */
export class MarathonEvents {
  private readonly clients = new Map<http.ServerResponse, Set<string> | undefined>();

  open(req: http.IncomingMessage, res: http.ServerResponse, types: string[]): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.write(": dcnet mesos-sim marathon events\n\n");
    this.clients.set(res, types.length ? new Set(types) : undefined);
    const keepAlive = setInterval(() => res.write(":\n\n"), 15_000);
    const done = (): void => {
      clearInterval(keepAlive);
      this.clients.delete(res);
    };
    req.on("close", done);
    res.on("close", done);
  }

  emit(eventType: string, data: Record<string, unknown>): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${eventType}\ndata: ${JSON.stringify({ eventType, timestamp: new Date().toISOString(), ...data })}\n\n`;
    for (const [res, filter] of this.clients) if (!filter || filter.has(eventType)) res.write(frame);
  }

  closeAll(): void {
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}
