import { strict as assert } from "node:assert";
import { createLogger, eventually, sleep } from "@dcnet/core";
import { createMasterStream, type MasterView } from "./master-stream";
import { fakeMaster, frame, startStream, type FakeMaster } from "./testing/fake-master";
import { AGENT_ID, AGENT_IP, FRAMEWORK_ID, hostTaskV1 } from "./testing/fixtures";

const logger = createLogger({ service: "test", level: "silent" });
const agent = (id: string, ip: string) => ({ agent_info: { id: { value: id }, hostname: ip, port: 5051 }, pid: `slave(1)@${ip}:5051` });
const subscribed = (opts: { tasks?: unknown[]; recovered?: unknown[]; heartbeat?: number } = {}) => ({
  type: "SUBSCRIBED",
  subscribed: {
    heartbeat_interval_seconds: opts.heartbeat ?? 15,
    get_state: {
      get_agents: { agents: [agent(AGENT_ID, AGENT_IP)], recovered_agents: opts.recovered ?? [] },
      get_frameworks: { frameworks: [{ framework_info: { id: { value: FRAMEWORK_ID }, name: "marathon" } }] },
      get_tasks: { tasks: opts.tasks ?? [hostTaskV1()] },
    },
  },
});

describe("createMasterStream against a fake master", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });
  const server = async (h: Parameters<typeof fakeMaster>[0]): Promise<FakeMaster> => {
    const s = await fakeMaster(h);
    cleanup.push(() => s.close());
    return s;
  };
  const stream = (masters: string[], extra: Partial<Parameters<typeof createMasterStream>[0]> = {}) => {
    const s = createMasterStream({ masters, logger, retryMinMs: 20, retryMaxMs: 100, settleMs: 0, ...extra });
    const views: { view: MasterView; leader: string }[] = [];
    let lost = 0;
    s.onChange((view, leader) => views.push({ view, leader }));
    s.onLost(() => lost++);
    s.start();
    cleanup.push(() => s.stop());
    return { s, views, lost: () => lost };
  };

  it("SUBSCRIBED gives the whole view at once; later events publish only when they change it", async () => {
    const m = await server((req, res) => {
      assert.equal(req.method, "POST");
      startStream(res, subscribed());
      setTimeout(() => {
        res.write(frame({ type: "HEARTBEAT" }));
        res.write(frame({ type: "AGENT_ADDED", agent_added: { agent: agent("S9", "10.0.4.99") } }));
      }, 50);
    });
    const { s, views } = stream([m.address]);
    await eventually(() => assert.equal(views.length, 2));
    assert.equal(views[0]!.leader, m.address);
    assert.equal(views[0]!.view.tasks.size, 1);
    assert.equal(views[0]!.view.agents.size, 1, "the first view is a snapshot, not the live map");
    assert.equal(views[1]!.view.agents.get("S9"), "10.0.4.99");
    assert.equal(s.current()?.view.agents.size, 2);
    assert.equal(s.live(), true);
  });

  it("a RecordIO framing error ends the stream: onLost, then a reconnect builds a complete new view", async () => {
    const m = await server((_req, res, n) => {
      startStream(res, subscribed({ tasks: n === 1 ? [hostTaskV1()] : [] }));
      if (n === 1) setTimeout(() => res.write("1234567890123456"), 30); // 16 bytes, no newline
    });
    const { views, lost } = stream([m.address]);
    await eventually(() => assert.equal(views.length, 2));
    assert.equal(lost(), 1);
    assert.equal(m.connections(), 2);
    assert.equal(views[1]!.view.tasks.size, 0, "rebuilt from the new SUBSCRIBED, nothing carried over");
    assert.equal(views[1]!.view.agents.size, 1);
  });

  it("a first record other than SUBSCRIBED is a protocol error (nothing published, no onLost)", async () => {
    const m = await server((_req, res) => startStream(res, { type: "HEARTBEAT" }));
    const { views, lost } = stream([m.address]);
    await eventually(() => assert.ok(m.connections() >= 2));
    assert.equal(views.length, 0);
    assert.equal(lost(), 0);
  });

  it("liveness: no record for 3 × heartbeat_interval_seconds ends the stream; heartbeats keep it", async () => {
    const m = await server((_req, res, n) => {
      startStream(res, subscribed({ heartbeat: 0.1 }));
      if (n === 1) {
        const hb = setInterval(() => res.write(frame({ type: "HEARTBEAT" })), 80);
        setTimeout(() => clearInterval(hb), 600); // then silence
        res.on("close", () => clearInterval(hb));
      }
    });
    const t0 = Date.now();
    const { lost } = stream([m.address]);
    await eventually(() => assert.equal(lost(), 1), 3000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 600 && elapsed < 3000, `lost after ${elapsed} ms`);
  });

  it("a master answering 307 is not streamed from: its Location (the leader) is", async () => {
    const leader = await server((_req, res) => startStream(res, subscribed()));
    const follower = await server((_req, res) => {
      res.writeHead(307, { location: `http://${leader.address}/api/v1` });
      res.end();
    });
    const { views } = stream([follower.address]);
    await eventually(() => assert.equal(views.length, 1));
    assert.equal(views[0]!.leader, leader.address);
    assert.equal(follower.connections(), 1);
  });

  it("a follower redirecting to an unreachable leader is skipped for the next master", async () => {
    const leader = await server((_req, res) => startStream(res, subscribed()));
    const follower = await server((_req, res) => {
      res.writeHead(307, { location: "//127.0.0.1:1/api/v1" });
      res.end();
    });
    const { views } = stream([follower.address, leader.address]);
    await eventually(() => assert.equal(views.length, 1));
    assert.equal(views[0]!.leader, leader.address);
  });

  it("gating: recovered agents hold the view back until they re-register, then settleMs", async () => {
    let res0: import("node:http").ServerResponse | undefined;
    const m = await server((_req, res) => {
      res0 = res;
      startStream(
        res,
        subscribed({
          recovered: [
            { id: { value: "S2" }, hostname: "10.0.4.2" },
            { id: { value: "S3" }, hostname: "10.0.4.3" },
          ],
        }),
      );
    });
    const { s, views } = stream([m.address], { settleMs: 150, recoveryTimeoutMs: 60_000 });
    await eventually(() => assert.ok(res0));
    res0!.write(frame({ type: "AGENT_ADDED", agent_added: { agent: agent("S2", "10.0.4.2") } }));
    await sleep(100);
    assert.equal(views.length, 0, "S3 still missing");
    assert.equal(s.current(), undefined);
    const t0 = Date.now();
    res0!.write(frame({ type: "AGENT_ADDED", agent_added: { agent: agent("S3", "10.0.4.3") } }));
    await eventually(() => assert.equal(views.length, 1));
    assert.ok(Date.now() - t0 >= 140, "settled");
    assert.deepEqual([...views[0]!.view.agents.keys()].sort(), [AGENT_ID, "S2", "S3"].sort());
  });

  it("gating: agents that never re-register are given up after recoveryTimeoutMs", async () => {
    const m = await server((_req, res) => startStream(res, subscribed({ recovered: [{ id: { value: "S2" } }] })));
    const t0 = Date.now();
    const { views } = stream([m.address], { settleMs: 50, recoveryTimeoutMs: 200 });
    await eventually(() => assert.equal(views.length, 1));
    assert.ok(Date.now() - t0 >= 240);
  });

  it("stop() ends the stream without onLost and stops reconnecting", async () => {
    const m = await server((_req, res) => startStream(res, subscribed()));
    const { s, views, lost } = stream([m.address]);
    await eventually(() => assert.equal(views.length, 1));
    await s.stop();
    const n = m.connections();
    await sleep(150);
    assert.equal(m.connections(), n);
    assert.equal(lost(), 0);
    assert.equal(s.live(), false);
  });

  it("no master reachable: keeps retrying with backoff, publishes nothing", async () => {
    const { views } = stream(["127.0.0.1:1"]);
    await sleep(200);
    assert.equal(views.length, 0);
  });
});

describe("createMasterStream: no master reachable", () => {
  it("warns once for a run of failed rounds, naming each master's reason", async () => {
    const lines: { level: string; msg: string; reasons?: Record<string, string> }[] = [];
    const log = createLogger({ service: "test", level: "debug", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    // Two ports nothing listens on (any more).
    const closed = await Promise.all(
      [0, 1].map(async () => {
        const m = await fakeMaster(() => undefined);
        await m.close();
        return m.address;
      }),
    );
    const s = createMasterStream({ masters: closed, logger: log, retryMinMs: 10, retryMaxMs: 20, settleMs: 0 });
    const rounds = () => lines.filter((l) => l.msg.startsWith("mesos: no leading master reachable"));
    s.start();
    try {
      await eventually(() => assert.ok(rounds().length >= 5), 5000);
      const warned = rounds().filter((l) => l.level === "warn");
      assert.equal(warned.length, 1);
      assert.deepEqual(Object.keys(warned[0]!.reasons ?? {}).sort(), [...closed].sort());
      assert.match(warned[0]!.reasons![closed[0]!]!, /ECONNREFUSED/);
    } finally {
      await s.stop();
    }
  });
});
