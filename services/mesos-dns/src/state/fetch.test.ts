import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, createRegistry } from "@dcnet/core";
import { parseMesosDnsConfig } from "../config";
import { loadMasterState } from "./fetch";
import { Reloader } from "./reloader";

/** A fake master on `host` answering /master/state with `body` (or a status). */
async function fakeMaster(
  host: string,
  port: number,
  body: unknown,
  status = 200,
  delayMs = 0,
): Promise<{ port: number; hits: () => number; connection: () => string | undefined; close(): Promise<void> }> {
  let hits = 0;
  let connection: string | undefined;
  const srv = http.createServer((req, res) => {
    hits++;
    connection = req.headers.connection;
    assert.equal(req.url, "/master/state");
    const timer = setTimeout(() => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    }, delayMs);
    res.on("close", () => clearTimeout(timer));
  });
  await new Promise<void>((r) => srv.listen(port, host, r));
  return {
    port: (srv.address() as AddressInfo).port,
    hits: () => hits,
    connection: () => connection,
    close: () => {
      srv.closeAllConnections();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

const opts = { timeoutMs: 2000, scheme: "http" as const };

describe("master state fetch (failover-aware, §2)", () => {
  it("uses the first master that answers with a leader", async () => {
    const a = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:5050", slaves: [] });
    try {
      const got = await loadMasterState([`127.0.0.1:${a.port}`], opts);
      assert.equal(got.from, `127.0.0.1:${a.port}`);
      assert.equal(got.state["leader"], "master@127.0.0.1:5050");
      assert.equal(a.connection(), "close", "keep-alives disabled, as upstream");
    } finally {
      await a.close();
    }
  });

  it("follows the leader named in the state, on the port of the master asked", async () => {
    const a = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.2:5050", who: "a" });
    const b = await fakeMaster("127.0.0.2", a.port, { leader: "master@127.0.0.2:5050", who: "b" });
    try {
      const got = await loadMasterState([`127.0.0.1:${a.port}`], opts);
      assert.equal(got.state["who"], "b");
      assert.equal(got.from, `127.0.0.2:${a.port}`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("tries the next master when one fails, and lists every failure when all do", async () => {
    const bad = await fakeMaster("127.0.0.1", 0, "<html>not json</html>", 503);
    const noLeader = await fakeMaster("127.0.0.1", 0, { slaves: [] });
    const good = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:1", who: "good" });
    try {
      const got = await loadMasterState([`127.0.0.1:${bad.port}`, `127.0.0.1:${noLeader.port}`, `127.0.0.1:${good.port}`], opts);
      assert.equal(got.state["who"], "good");
      await assert.rejects(
        loadMasterState([`127.0.0.1:${bad.port}`, `127.0.0.1:${noLeader.port}`, "127.0.0.1:1"], opts),
        (e: Error) => /not JSON/.test(e.message) && /no leader/.test(e.message) && /127\.0\.0\.1:1/.test(e.message),
      );
    } finally {
      await bad.close();
      await noLeader.close();
      await good.close();
    }
  });

  it("follows a non-leading master's redirect to the leader, as Go's client does", async () => {
    const leader = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:1", who: "leader" });
    const follower = http.createServer((_req, res) => {
      res.writeHead(307, { location: `//127.0.0.1:${leader.port}/master/state` });
      res.end();
    });
    await new Promise<void>((r) => follower.listen(0, "127.0.0.1", r));
    try {
      const got = await loadMasterState([`127.0.0.1:${(follower.address() as AddressInfo).port}`], opts);
      assert.equal(got.state["who"], "leader");
      assert.equal(leader.hits(), 1);
    } finally {
      await new Promise((r) => follower.close(r));
      await leader.close();
    }
  });

  it("waits for a master's headers beyond 2 s: the whole request is bounded by stateTimeoutSeconds only", async function () {
    this.timeout(10_000);
    const slow = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:1", who: "slow" }, 200, 2500);
    try {
      const got = await loadMasterState([`127.0.0.1:${slow.port}`], { timeoutMs: 5000 });
      assert.equal(got.state["who"], "slow");
    } finally {
      await slow.close();
    }
  });

  it("a master slower than stateTimeoutSeconds fails over to the next one", async function () {
    this.timeout(10_000);
    const slow = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:1", who: "slow" }, 200, 3000);
    const fast = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:1", who: "fast" });
    const config = parseMesosDnsConfig(
      { masters: [`127.0.0.1:${slow.port}`, `127.0.0.1:${fast.port}`], stateTimeoutSeconds: 1 },
      { env: {}, warn: () => undefined },
    );
    const reloader = new Reloader(config, {
      log: createLogger({ service: "test", level: "silent" }),
      registry: createRegistry({ defaultMetrics: false }),
      subscribe: false,
    });
    try {
      const t0 = Date.now();
      await reloader.reload("test");
      assert.equal(reloader.current?.from, `127.0.0.1:${fast.port}`);
      const took = Date.now() - t0;
      assert.ok(took >= 900 && took < 2500, `failed over after stateTimeoutSeconds (${took} ms)`);
      await assert.rejects(
        loadMasterState([`127.0.0.1:${slow.port}`], { timeoutMs: 500 }),
        /no complete answer within 500 ms \(stateTimeoutSeconds\)/,
      );
    } finally {
      reloader.stop();
      await slow.close();
      await fast.close();
    }
  });
});
