import { strict as assert } from "node:assert";
import type { AgentVip } from "./backends";
import type { BackendsDoc } from "./publisher";
import { parseVipKeyId } from "./vip-key";
import { planVip } from "./vip-plan";
import { VipTable } from "./vip-table";

const doc = (agentIp: string, vips: [string, [string, number, number][]][]): BackendsDoc => ({
  v: 1,
  agentIp,
  vips: vips.map(([id, bs]): AgentVip => ({
    key: parseVipKeyId(id)!,
    id,
    backends: bs.map(([ip, port, weight]) => ({ ip, port, weight, taskId: `t-${ip}-${port}`, agentIp })),
  })),
  problems: [],
  updatedMs: 0,
});

const WEB = "tcp/name:web.marathon/80";

describe("l4lb VIP table (union of agents' documents) and plan", () => {
  it("unions agents, reports only the VIPs whose backends changed, and drops a VIP with no backends anywhere", () => {
    const t = new VipTable();
    assert.deepEqual(t.set("backends.a", doc("10.0.0.1", [[WEB, [["10.0.0.1", 31000, 1]]]])), [WEB]);
    assert.deepEqual(
      t.set(
        "backends.b",
        doc("10.0.0.2", [
          [WEB, [["10.0.0.2", 31000, 1]]],
          ["udp/ip:172.16.0.1/53", [["10.0.0.2", 53, 1]]],
        ]),
      ),
      [WEB, "udp/ip:172.16.0.1/53"],
    );
    assert.equal(t.size, 2);
    assert.equal(t.backends, 3);
    assert.deepEqual(
      t.get(WEB)!.backends.map((b) => b.ip),
      ["10.0.0.1", "10.0.0.2"],
    );
    assert.deepEqual(
      t.set("backends.b", doc("10.0.0.2", [[WEB, [["10.0.0.2", 31000, 1]]]])),
      ["udp/ip:172.16.0.1/53"],
      "only the VIP that changed",
    );
    assert.deepEqual(t.idsOfAgent("10.0.0.2"), [WEB]);
    t.set("backends.a", undefined);
    t.set("backends.b", undefined);
    assert.equal(t.size, 0);
    assert.equal(t.backends, 0);
  });

  it("plan: reachability with fail-open, hairpin rewrite, addresses per family, IPv6 off", () => {
    const t = new VipTable();
    t.set(
      "backends.a",
      doc("10.0.0.1", [
        [
          WEB,
          [
            ["10.0.0.1", 31000, 1],
            ["fd00::1", 8080, 1],
          ],
        ],
      ]),
    );
    t.set("backends.b", doc("10.0.0.2", [[WEB, [["10.0.0.2", 31000, 0]]]]));
    const addrs: Record<string, string> = { "4|web.marathon": "11.1.2.3" };
    const base = { address: (n: string, f: 4 | 6) => addrs[`${f}|${n}`], unreachable: new Set<string>(), rewrites: new Map(), ipv6: true };
    let p = planVip(t.get(WEB)!, base);
    assert.deepEqual(p.claim, { name: "web.marathon", families: [4, 6] });
    assert.deepEqual(p.view.addresses, ["11.1.2.3"]);
    assert.deepEqual(p.view.notes, ["no IPv6 address claimed yet"]);
    assert.deepEqual(p.dataplane, [
      {
        protocol: "tcp",
        ip: "11.1.2.3",
        port: 80,
        backends: [
          { ip: "10.0.0.1", port: 31000, weight: 1 },
          { ip: "10.0.0.2", port: 31000, weight: 0 },
        ],
      },
    ]);
    p = planVip(t.get(WEB)!, {
      ...base,
      unreachable: new Set(["10.0.0.2"]),
      rewrites: new Map([["tcp 10.0.0.1 31000", { ip: "172.17.0.5", port: 80 }]]),
    });
    assert.deepEqual(p.dataplane[0]!.backends, [{ ip: "172.17.0.5", port: 80, weight: 1 }]);
    assert.deepEqual(
      p.view.backends.map((b) => [b.ip, b.reachable, b.inUse]),
      [
        ["10.0.0.1", true, true],
        ["10.0.0.2", false, false],
        ["fd00::1", true, true],
      ],
    );
    p = planVip(t.get(WEB)!, { ...base, unreachable: new Set(["10.0.0.1", "10.0.0.2"]) });
    assert.equal(p.view.failedOpen, true);
    assert.equal(p.dataplane[0]!.backends.length, 2);
    p = planVip(t.get(WEB)!, { ...base, ipv6: false });
    assert.deepEqual(p.claim, { name: "web.marathon", families: [4] });
  });

  it("plan: a name that sanitises to nothing gets no address", () => {
    const t = new VipTable();
    t.set("backends.a", doc("10.0.0.1", [["tcp/name:%2F%2F.marathon/80", [["10.0.0.1", 1, 1]]]]));
    const p = planVip([...t.values()][0]!, { address: () => undefined, unreachable: new Set(), rewrites: new Map(), ipv6: true });
    assert.equal(p.claim, undefined);
    assert.deepEqual(p.dataplane, []);
    assert.match(p.view.notes[0]!, /not a DNS name/);
  });
});
