import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { loadMasterState } from "./fetch";

/** A fake master on `host` answering /master/state with `body` (or a status). */
async function fakeMaster(
  host: string,
  port: number,
  body: unknown,
  status = 200,
): Promise<{ port: number; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const srv = http.createServer((req, res) => {
    hits++;
    assert.equal(req.url, "/master/state");
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  });
  await new Promise<void>((r) => srv.listen(port, host, r));
  return { port: (srv.address() as AddressInfo).port, hits: () => hits, close: () => new Promise((r) => srv.close(() => r())) };
}

const opts = { timeoutMs: 2000, scheme: "http" as const };

describe("master state fetch (failover-aware, §2)", () => {
  it("uses the first master that answers with a leader", async () => {
    const a = await fakeMaster("127.0.0.1", 0, { leader: "master@127.0.0.1:5050", slaves: [] });
    try {
      const got = await loadMasterState([`127.0.0.1:${a.port}`], opts);
      assert.equal(got.from, `127.0.0.1:${a.port}`);
      assert.equal(got.state["leader"], "master@127.0.0.1:5050");
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
});
