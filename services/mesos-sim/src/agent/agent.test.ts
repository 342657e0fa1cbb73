import { strict as assert } from "node:assert";
import { eventually, sleep } from "@dcnet/core";
import { keys } from "../model/kv-layout";
import type { AgentRecord, HealthCheckTiming } from "../model/launch";
import { HEARTBEAT_SUBJECT } from "./agent";
import { NO_OVERLAY } from "./network";
import { alive, ECHO, freePort, get, Harness, launchOf } from "./test-harness";

const fast: HealthCheckTiming = {
  gracePeriodSeconds: 0,
  intervalSeconds: 0.2,
  timeoutSeconds: 1,
  maxConsecutiveFailures: 0,
  delaySeconds: 0,
};

describe("mesos agent: host mode with real processes (in-process bus)", function () {
  this.timeout(20_000);
  let h: Harness;
  beforeEach(async () => (h = await new Harness().start()));
  afterEach(async () => h.stop());

  it("registers its AgentRecord and heartbeats; deletes the record on stop", async () => {
    const beats: { agentId: string; at: number }[] = [];
    const sub = h.masterBus.subscribe(HEARTBEAT_SUBJECT, (e) => beats.push(JSON.parse(Buffer.from(e.payload).toString("utf8"))));
    const entry = await h.kv.get(keys.agent(h.agentId));
    const rec = JSON.parse(Buffer.from(entry!.value).toString("utf8")) as AgentRecord;
    assert.equal(rec.id, h.agentId);
    assert.equal(rec.ip, "127.0.0.1");
    assert.equal(rec.port, h.agent.port());
    assert.deepEqual(rec.portRange, [1024, 65535]);
    assert.match(rec.bridgeUnavailable ?? "", /bridge.enabled=off/);
    await eventually(() => assert.ok(beats.filter((b) => b.agentId === h.agentId).length >= 2));
    assert.ok(Math.abs(beats[0]!.at - Date.now()) < 5000);
    sub.unsubscribe();
    await h.agent.lifecycle.stop();
    assert.equal(await h.kv.get(keys.agent(h.agentId)), undefined);
  });

  it("runs an HTTP echo task: STAGING → STARTING → RUNNING, answers on agentIP:PORT0", async () => {
    const port = await freePort();
    await h.launch(launchOf("echo.1", ECHO, { hostPorts: [port] }));
    const running = await h.waitFor("echo.1", "TASK_RUNNING");
    assert.deepEqual(h.states("echo.1"), ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"]);
    assert.equal(running.task_id.value, "echo.1");
    assert.equal(running.agent_id?.value, h.agentId);
    assert.equal(running.slave_id?.value, h.agentId);
    assert.equal(running.source, "SOURCE_EXECUTOR");
    assert.ok(running.timestamp > 1e9 && running.timestamp < 1e11, "timestamp in seconds");
    assert.deepEqual(running.container_status?.network_infos?.[0]?.ip_addresses, [{ protocol: "IPv4", ip_address: "127.0.0.1" }]);
    const res = await eventually(() => get(`http://127.0.0.1:${port}/`));
    assert.equal(res.body, "echo.1");
  });

  it("gives the task MESOS_TASK_ID, HOST, PORT0…, PORTS, PORT_<NAME>, MARATHON_APP_ID and the app env", async () => {
    const [p0, p1] = [await freePort(), await freePort()];
    const cmd = 'echo "$MESOS_TASK_ID|$MESOS_AGENT_ID|$HOST|$PORT|$PORT0|$PORT1|$PORTS|$PORT_ADMIN|$MARATHON_APP_ID|$FOO|$(pwd)"';
    await h.launch(
      launchOf("env.1", cmd, {
        hostPorts: [p0, p1],
        appId: "/group/env",
        env: { FOO: "bar" },
        discovery: { visibility: "FRAMEWORK", ports: { ports: [{ number: p0 }, { number: p1, name: "admin" }] } },
      }),
    );
    const done = await h.waitFor("env.1", "TASK_FINISHED");
    assert.match(done.message ?? "", /status 0/);
    const [taskId, agentId, host, port, port0, port1, ports, admin, appId, foo, cwd] = h.sandbox("env.1", "stdout").trim().split("|");
    assert.deepEqual(
      [taskId, agentId, host, port, port0, port1, ports, admin, appId, foo],
      ["env.1", h.agentId, "127.0.0.1", `${p0}`, `${p0}`, `${p1}`, `${p0},${p1}`, `${p1}`, "/group/env", "bar"],
    );
    assert.ok(cwd?.endsWith("env_2e1"), `cwd is the sandbox: ${cwd}`);
  });

  it("reports exit codes and signals: FINISHED for 0, FAILED naming the status or signal otherwise", async () => {
    await h.launch(launchOf("ok.1", "exit 0"));
    await h.launch(launchOf("bad.1", "echo oops >&2; exit 3"));
    await h.launch(launchOf("sig.1", "kill -SEGV $$"));
    await h.waitFor("ok.1", "TASK_FINISHED");
    const bad = await h.waitFor("bad.1", "TASK_FAILED");
    assert.equal(bad.message, "Command exited with status 3");
    assert.equal(bad.reason, "REASON_COMMAND_EXECUTOR_FAILED");
    assert.equal(h.sandbox("bad.1", "stderr"), "oops\n");
    const sig = await h.waitFor("sig.1", "TASK_FAILED");
    assert.match(sig.message ?? "", /signal SIGSEGV/);
  });

  it("kills with SIGTERM first: a cooperative task is KILLED quickly", async () => {
    await h.launch(launchOf("sleepy.1", "exec sleep 60", { killGracePeriodSeconds: 5 }));
    const running = await h.waitFor("sleepy.1", "TASK_RUNNING");
    const t0 = Date.now();
    await h.launch({ ...launchOf("sleepy.1", "exec sleep 60", { killGracePeriodSeconds: 5 }), kill: true });
    const killed = await h.waitFor("sleepy.1", "TASK_KILLED");
    assert.ok(Date.now() - t0 < 3000, "SIGTERM was enough");
    assert.deepEqual(h.states("sleepy.1").slice(-2), ["TASK_KILLING", "TASK_KILLED"]);
    assert.match(killed.message ?? "", /SIGTERM/);
    assert.equal(alive(running.container_status!.executor_pid!), false);
  });

  it("escalates to SIGKILL after the grace period when the task ignores SIGTERM", async () => {
    const cmd = "trap '' TERM; sleep 60 & wait; sleep 60";
    await h.launch(launchOf("stubborn.1", cmd, { killGracePeriodSeconds: 1.5 }));
    const running = await h.waitFor("stubborn.1", "TASK_RUNNING");
    await sleep(200); // let the shell install its trap
    const t0 = Date.now();
    await h.launch({ ...launchOf("stubborn.1", cmd, { killGracePeriodSeconds: 1.5 }), kill: true });
    await h.waitFor("stubborn.1", "TASK_KILLING", 2000);
    const killed = await h.waitFor("stubborn.1", "TASK_KILLED", 5000);
    const took = Date.now() - t0;
    assert.ok(took >= 1400 && took < 4000, `grace period honoured (${took} ms)`);
    assert.match(killed.message ?? "", /SIGKILL after the 1.5s grace period/);
    assert.equal(alive(running.container_status!.executor_pid!), false);
  });

  it("a deleted launch kills the task and then deletes its status", async () => {
    await h.launch(launchOf("gone.1", "exec sleep 60"));
    const running = await h.waitFor("gone.1", "TASK_RUNNING");
    await h.kv.delete(keys.launch(h.agentId, "gone.1"));
    await eventually(async () => assert.equal(await h.status("gone.1"), undefined));
    assert.ok(h.states("gone.1").includes("TASK_KILLED"));
    assert.equal(alive(running.container_status!.executor_pid!), false);
  });

  it("refuses host ports outside its range or held by another live task", async () => {
    const port = await freePort();
    await h.launch(launchOf("holder.1", "exec sleep 60", { hostPorts: [port] }));
    await h.waitFor("holder.1", "TASK_RUNNING");
    await h.launch(launchOf("clash.1", "exec sleep 60", { hostPorts: [port] }));
    const clash = await h.waitFor("clash.1", "TASK_FAILED");
    assert.equal(clash.message, `host port ${port} is already used by task holder.1`);
    await h.launch(launchOf("out.1", "exit 0", { hostPorts: [80] }));
    const out = await h.waitFor("out.1", "TASK_FAILED");
    assert.equal(out.message, "host port 80 is outside this agent's port range [1024-65535]");
    // Once the holder is gone the port is free again.
    await h.launch({ ...launchOf("holder.1", "exec sleep 60"), kill: true });
    await h.waitFor("holder.1", "TASK_KILLED");
    await h.launch(launchOf("again.1", "exec sleep 60", { hostPorts: [port] }));
    await h.waitFor("again.1", "TASK_RUNNING");
  });

  it("HTTP health check: healthy true, then false once the server stops answering", async () => {
    const port = await freePort();
    const cmd = `node -e "const s=require('http').createServer((q,r)=>{if(q.url==='/stop'){r.end('bye');s.close();setInterval(()=>{},1e3)}else r.end('ok')}).listen(+process.env.PORT0)"`;
    await h.launch(
      launchOf("hc.1", cmd, { hostPorts: [port], healthChecks: [{ protocol: "HTTP", path: "/health", portIndex: 0, common: fast }] }),
    );
    const healthy = await eventually(async () => {
      const s = await h.status("hc.1");
      assert.equal(s?.healthy, true);
      return s!;
    });
    assert.equal(healthy.state, "TASK_RUNNING");
    await get(`http://127.0.0.1:${port}/stop`);
    const sick = await eventually(async () => {
      const s = await h.status("hc.1");
      assert.equal(s?.healthy, false);
      return s!;
    });
    assert.equal(sick.state, "TASK_RUNNING", "maxConsecutiveFailures 0: never killed");
  });

  it("kills a task whose health check keeps failing: FAILED with REASON_HEALTH_CHECK_FAILED", async () => {
    const port = await freePort();
    const timing = { ...fast, maxConsecutiveFailures: 2 };
    await h.launch(
      launchOf("hcdead.1", "exec sleep 60", { hostPorts: [port], healthChecks: [{ protocol: "TCP", portIndex: 0, common: timing }] }),
    );
    const failed = await h.waitFor("hcdead.1", "TASK_FAILED");
    assert.equal(failed.reason, "REASON_HEALTH_CHECK_FAILED");
    assert.equal(failed.message, "health check failed");
    assert.equal(failed.healthy, false);
  });

  it("COMMAND health check runs in the task's environment", async () => {
    await h.launch(
      launchOf("hccmd.1", "exec sleep 60", {
        env: { MARKER: "yes" },
        healthChecks: [{ protocol: "COMMAND", command: 'test "$MARKER" = yes', common: fast }],
      }),
    );
    await eventually(async () => assert.equal((await h.status("hccmd.1"))?.healthy, true));
  });

  it("fails bridge tasks with a clear reason when bridge mode is off", async () => {
    await h.launch(
      launchOf("br.1", ECHO, {
        network: { mode: "bridge", portMappings: [{ containerPort: 80, hostPort: 0, protocol: "tcp" }] },
        hostPorts: [await freePort()],
      }),
    );
    const s = await h.waitFor("br.1", "TASK_FAILED");
    assert.equal(s.message, "bridge networking needs root, iproute2 and nftables: disabled by configuration (bridge.enabled=off)");
  });

  it("fails container-mode tasks with a clear reason without the overlay agent", async () => {
    await h.launch(
      launchOf("vn.1", ECHO, { network: { mode: "container", networkName: "dcos", groups: [], labels: {}, portMappings: [] } }),
    );
    const s = await h.waitFor("vn.1", "TASK_FAILED");
    assert.equal(s.message, NO_OVERLAY);
  });

  it("an invalid launch gets TASK_ERROR; a launch already killed is never started", async () => {
    await h.kv.put(keys.launch(h.agentId, "junk.1"), Buffer.from("{nope"));
    const err = await h.waitFor("junk.1", "TASK_ERROR");
    assert.match(err.message ?? "", /invalid launch: not JSON/);
    await h.launch({ ...launchOf("pre.1", "exec sleep 60"), kill: true });
    await h.waitFor("pre.1", "TASK_KILLED");
    assert.deepEqual(h.states("pre.1"), ["TASK_KILLED"]);
  });

  it("stopping the agent kills its task processes and leaves their statuses alone", async () => {
    await h.launch(launchOf("orphan.1", "trap '' TERM; exec sleep 60", { killGracePeriodSeconds: 0.5 }));
    const running = await h.waitFor("orphan.1", "TASK_RUNNING");
    await h.agent.lifecycle.stop();
    assert.equal(alive(running.container_status!.executor_pid!), false);
    assert.equal((await h.status("orphan.1"))?.state, "TASK_RUNNING");
  });
});

describe("mesos agent: restart", function () {
  this.timeout(20_000);
  let h: Harness;
  afterEach(async () => h.stop());

  it("marks launches of tasks it no longer runs TASK_LOST, and runs launches it never acknowledged", async () => {
    h = new Harness();
    const id = "agent-restarted";
    const kv = await h.masterBus.kv("mesos");
    const put = (k: string, v: unknown) => kv.put(k, Buffer.from(JSON.stringify(v)));
    await put(keys.launch(id, "old.1"), launchOf("old.1", "exec sleep 60"));
    await put(keys.status(id, "old.1"), { task_id: { value: "old.1" }, state: "TASK_RUNNING", timestamp: 1 });
    await put(keys.launch(id, "done.1"), launchOf("done.1", "exit 0"));
    await put(keys.status(id, "done.1"), { task_id: { value: "done.1" }, state: "TASK_FINISHED", timestamp: 1 });
    await put(keys.launch(id, "new.1"), launchOf("new.1", "exec sleep 60"));
    await h.start({ id });
    const lost = await h.waitFor("old.1", "TASK_LOST");
    assert.equal(lost.message, "agent restarted; task process is gone");
    await h.waitFor("new.1", "TASK_RUNNING");
    assert.equal((await h.status("done.1"))?.state, "TASK_FINISHED");
  });
});
