import { strict as assert } from "node:assert";
import { promises as dnsp } from "node:dns";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, createRegistry, eventually } from "@dcnet/core";
import { parseMesosDnsConfig } from "../config";
import { Reloader } from "./reloader";

describe("reloader: host names to resolve", () => {
  it('a framework with "pid": null gets the records of its hostname, resolved like an absent pid', async () => {
    let address = "";
    const srv = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          leader: `master@${address}`,
          slaves: [],
          frameworks: [{ name: "null-pid", pid: null, hostname: "localhost", tasks: [] }],
        }),
      );
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    address = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const reloader = new Reloader(parseMesosDnsConfig({ masters: [address] }, { env: {}, warn: () => undefined }), {
      log: createLogger({ service: "test", level: "silent" }),
      registry: createRegistry({ defaultMetrics: false }),
      subscribe: false,
    });
    try {
      await reloader.reload("test");
      const set = reloader.current!.set;
      const ips = (name: string) => [...(set.a.get(name) ?? []), ...(set.aaaa.get(name) ?? [])];
      const localhost = (await dnsp.lookup("localhost", { all: true })).map((a) => a.address);
      assert.ok(localhost.length > 0);
      assert.deepEqual(ips("null-pid.mesos.").sort(), localhost.sort());
    } finally {
      reloader.stop();
      await new Promise((r) => srv.close(r));
    }
  });
});

describe("reloader: masters down (failures, log volume, stop)", () => {
  /** A master whose /master/state answers `ok()` ? a state : 503, and whose SUBSCRIBE fails (so the stream is lost at once). */
  async function master(ok: () => boolean): Promise<{ address: string; stateRequests: () => number; close(): Promise<void> }> {
    let address = "";
    let n = 0;
    const srv = http.createServer((req, res) => {
      req.resume();
      if (req.url?.startsWith("/master/state")) {
        n++;
        if (!ok()) return res.writeHead(503).end("down");
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ leader: `master@${address}`, slaves: [], frameworks: [] }));
      }
      res.writeHead(500).end("no operator API");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    address = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    return {
      address,
      stateRequests: () => n,
      close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))),
    };
  }
  const capture = () => {
    const lines: { level: string; msg: string }[] = [];
    const log = createLogger({ service: "test", level: "debug", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    return { log, lines, warnings: () => lines.filter((l) => l.level === "warn" && /keeping old DNS state/.test(l.msg)).length };
  };
  const reloaderFor = (address: string, log: ReturnType<typeof createLogger>, subscribe = false) =>
    new Reloader(parseMesosDnsConfig({ masters: [address], refreshSeconds: 60 }, { env: {}, warn: () => undefined }), {
      log,
      registry: createRegistry({ defaultMetrics: false }),
      subscribe,
    });

  it("start() while every master fails: one warning per refreshSeconds (not one a second); the recovery is logged", async () => {
    let up = false;
    const m = await master(() => up);
    const c = capture();
    const reloader = reloaderFor(m.address, c.log);
    try {
      const started = reloader.start();
      await eventually(() => assert.ok(m.stateRequests() >= 3), 5000);
      assert.equal(c.warnings(), 1);
      up = true;
      await started;
      assert.ok(c.lines.some((l) => l.level === "info" && l.msg === "records reloaded again"));
    } finally {
      reloader.stop();
      await m.close();
    }
  });

  it("stop() during start() while every master fails: start() rejects and no more reloads happen", async () => {
    const m = await master(() => false);
    const reloader = reloaderFor(m.address, capture().log);
    try {
      const started = reloader.start();
      await eventually(() => assert.ok(m.stateRequests() >= 1), 3000);
      reloader.stop();
      await assert.rejects(started, /stopped before the first successful reload/);
      const n = m.stateRequests();
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(m.stateRequests(), n);
    } finally {
      reloader.stop();
      await m.close();
    }
  });

  it("a lost stream with every master failing: reloads back off (1 s, 2 s, …), not one a second", async () => {
    let up = true;
    const m = await master(() => up);
    const reloader = reloaderFor(m.address, capture().log, true);
    try {
      await reloader.reload("test"); // follows the master; its SUBSCRIBE fails: the stream is lost
      up = false;
      const n = m.stateRequests();
      await new Promise((r) => setTimeout(r, 3500));
      // 1 s apart: 4 or more in 3.5 s; backing off (0, 1, 3 s): 3.
      const tries = m.stateRequests() - n;
      assert.ok(tries >= 2 && tries <= 3, `${tries} reloads`);
    } finally {
      reloader.stop();
      await m.close();
    }
  });
});
