import { strict as assert } from "node:assert";
import type { NormalTask } from "@dcnet/mesos";
import { dcosZone } from "./task-records";

const task = (over: Partial<NormalTask>): NormalTask => ({
  id: "t1",
  name: "web",
  frameworkId: "fw",
  framework: "marathon",
  agentId: "a1",
  agentIp: "10.0.0.5",
  taskIps: [],
  state: "running",
  healthy: true,
  runtime: "MESOS",
  ports: [],
  problems: [],
  vipProblems: [],
  ...over,
});

const values = (tasks: NormalTask[], name: string) => {
  const r = dcosZone(tasks, [], null).records.get(name);
  return r ? [...(r.a ?? []), ...(r.aaaa ?? [])] : undefined;
};

describe("dcos.thisdcos.directory task records (§3.6)", () => {
  it("autoip: the agent IP when any port has a host port", () => {
    const t = task({ taskIps: ["9.0.1.2"], ports: [{ protocol: "tcp", port: 80, hostPort: 31000, vips: [] }] });
    assert.deepEqual(values([t], "web.marathon.autoip.dcos.thisdcos.directory."), ["10.0.0.5"]);
    assert.deepEqual(values([t], "web.marathon.containerip.dcos.thisdcos.directory."), ["9.0.1.2"]);
    assert.deepEqual(values([t], "web.marathon.agentip.dcos.thisdcos.directory."), ["10.0.0.5"]);
  });

  it("autoip: the task IPs (v4 and v6) without host ports; the agent IP when the task has none", () => {
    const t = task({ taskIps: ["9.0.1.2", "fd01:b::2"], ports: [{ protocol: "tcp", port: 80, vips: [] }] });
    assert.deepEqual(values([t], "web.marathon.autoip.dcos.thisdcos.directory."), ["9.0.1.2", "fd01:b::2"]);
    const bare = task({ taskIps: [] });
    assert.deepEqual(values([bare], "web.marathon.autoip.dcos.thisdcos.directory."), ["10.0.0.5"]);
    assert.equal(values([bare], "web.marathon.containerip.dcos.thisdcos.directory."), undefined, "no containerip without task IPs");
  });

  it("sanitises task and framework names (myapp.mygroup → myapp-mygroup)", () => {
    const t = task({ name: "myapp.mygroup", framework: "Marathon_User" });
    assert.ok(dcosZone([t], [], null).records.has("myapp-mygroup.marathon-user.agentip.dcos.thisdcos.directory."));
  });

  it("only running tasks; same-named tasks add up, each address once", () => {
    const ts = [
      task({ id: "1", agentIp: "10.0.0.5" }),
      task({ id: "2", agentIp: "10.0.0.6" }),
      task({ id: "3", agentIp: "10.0.0.6" }),
      task({ id: "4", agentIp: "10.0.0.7", state: "killing" }),
      task({ id: "5", agentIp: "10.0.0.8", state: "preparing" }),
    ];
    assert.deepEqual(values(ts, "web.marathon.agentip.dcos.thisdcos.directory."), ["10.0.0.5", "10.0.0.6"]);
  });

  it("master. for every master, leader. for the leading one", () => {
    const z = dcosZone([], ["10.0.0.11", "10.0.0.12"], "10.0.0.12");
    assert.deepEqual(z.records.get("master.dcos.thisdcos.directory.")!.a, ["10.0.0.11", "10.0.0.12"]);
    assert.deepEqual(z.records.get("leader.dcos.thisdcos.directory.")!.a, ["10.0.0.12"]);
  });
});
