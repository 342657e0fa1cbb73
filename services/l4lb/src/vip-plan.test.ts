import { strict as assert } from "node:assert";
import type { Backend } from "./backends";
import { planVip, type PlanInputs } from "./vip-plan";
import { parseVipKeyId } from "./vip-key";

const b = (ip: string, agentIp: string): Backend => ({ ip, port: 8080, weight: 1, taskId: `t-${ip}`, agentIp });
const ID = "tcp/name:web.marathon/80";
const inputs = (unreachable: string[]): PlanInputs => ({
  address: (_name, f) => (f === 4 ? "11.0.0.5" : "fd01:c::5"),
  unreachable: new Set(unreachable),
  rewrites: new Map(),
  ipv6: true,
});
const plan = (backends: Backend[], unreachable: string[]) => planVip({ id: ID, key: parseVipKeyId(ID)!, backends }, inputs(unreachable));
const served = (p: ReturnType<typeof plan>, ip: string): string[] => p.dataplane.find((d) => d.ip === ip)?.backends.map((x) => x.ip) ?? [];

describe("l4lb VIP plan: reachability per address family (spec §4.5)", () => {
  it("a named VIP whose IPv4 backends are all unreachable fails open for IPv4 although IPv6 ones are reachable", () => {
    // Agent 10.0.0.1 (down) has the IPv4 backend, agent 10.0.0.2 (up) the IPv6 one.
    const p = plan([b("10.0.0.1", "10.0.0.1"), b("fd00::2", "10.0.0.2")], ["10.0.0.1"]);
    assert.deepEqual(served(p, "11.0.0.5"), ["10.0.0.1"], "IPv4 entry keeps its only (unreachable) backend");
    assert.deepEqual(served(p, "fd01:c::5"), ["fd00::2"]);
    assert.equal(p.view.failedOpen, true);
    assert.deepEqual(p.view.notes, ["every IPv4 backend is on an unreachable agent: all kept (fail-open)"]);
    assert.deepEqual(
      p.view.backends.map((x) => [x.ip, x.reachable, x.inUse]),
      [
        ["10.0.0.1", false, true],
        ["fd00::2", true, true],
      ],
    );
  });

  it("within a family, unreachable backends are dropped while a reachable one is left", () => {
    const p = plan(
      [b("10.0.0.1", "10.0.0.1"), b("10.0.0.3", "10.0.0.3"), b("fd00::1", "10.0.0.1"), b("fd00::2", "10.0.0.2")],
      ["10.0.0.1"],
    );
    assert.deepEqual(served(p, "11.0.0.5"), ["10.0.0.3"]);
    assert.deepEqual(served(p, "fd01:c::5"), ["fd00::2"]);
    assert.equal(p.view.failedOpen, false);
    assert.deepEqual(p.view.notes, []);
  });

  it("both families unreachable: both fail open", () => {
    const p = plan([b("10.0.0.1", "10.0.0.1"), b("fd00::1", "10.0.0.1")], ["10.0.0.1"]);
    assert.deepEqual(served(p, "11.0.0.5"), ["10.0.0.1"]);
    assert.deepEqual(served(p, "fd01:c::5"), ["fd00::1"]);
    assert.equal(p.view.notes.length, 2);
  });
});
