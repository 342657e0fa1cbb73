import { strict as assert } from "node:assert";
import { vipRange } from "./allocate";
import { planVip } from "./vip-plan";
import { inCidr, ipVipGuard, parseCidr } from "./vip-guard";
import { parseVipKeyId } from "./vip-key";

const RANGES = { 4: vipRange(4), 6: vipRange(6) };

describe("IP VIP addresses refused (vip-guard)", () => {
  const guard = ipVipGuard({ namedRanges: RANGES });

  it("special addresses, dcos-dns's listeners and the named ranges are refused, each saying why", () => {
    const cases: [string, RegExp][] = [
      ["127.0.0.1", /loopback address \(127\.0\.0\.0\/8\)/],
      ["127.1.2.3", /loopback/],
      ["0.0.0.0", /unspecified address \(0\.0\.0\.0\/8\)/],
      ["169.254.169.254", /link-local address \(169\.254\.0\.0\/16\)/],
      ["224.0.0.251", /multicast address \(224\.0\.0\.0\/4\)/],
      ["239.255.255.250", /multicast/],
      ["255.255.255.255", /the broadcast address/],
      ["198.51.100.1", /dcos-dns's listener range \(198\.51\.100\.0\/24\)/],
      ["::", /the unspecified address \(::\/128\)/],
      ["::1", /the loopback address/],
      ["fe80::1", /link-local address \(fe80::\/10\)/],
      ["ff02::1", /multicast address \(ff00::\/8\)/],
      ["fd01:d::c633:6401", /dcos-dns's listener range/],
      ["11.0.0.1", /in the named-VIP range 11\.0\.0\.0–11\.255\.255\.254: it could be a named VIP's address/],
      ["11.200.3.4", /named-VIP range/],
      ["fd01:c::5", /named-VIP range fd01:c::–fd01:c::ffff:ffff:ffff:ffff/],
    ];
    for (const [ip, why] of cases) {
      const r = guard(ip);
      assert.ok(r !== undefined, `${ip} accepted`);
      assert.match(r, why, ip);
      assert.ok(r.startsWith(`${ip} `), r);
    }
  });

  it("ordinary addresses are accepted (RFC 1918, ULA, the edges of the refused ranges)", () => {
    for (const ip of [
      "172.16.0.1",
      "10.0.0.1",
      "192.168.1.1",
      "198.51.101.1",
      "12.0.0.0",
      "10.255.255.255",
      "fd00::1",
      "2001:db8::1",
      "fe00::1",
    ])
      assert.equal(guard(ip), undefined, ip);
  });

  it("the named range is the configured one", () => {
    const g = ipVipGuard({ namedRanges: { 4: vipRange(4, { min: "10.200.0.0", max: "10.200.255.255" }), 6: vipRange(6) } });
    assert.equal(g("11.0.0.1"), undefined);
    assert.match(g("10.200.1.1")!, /named-VIP range 10\.200\.0\.0–10\.200\.255\.255/);
  });

  it("ipVipAllow exempts special and named-range addresses, never a node's own", () => {
    const nodes = ["10.0.0.5", "127.0.0.5"];
    const g = ipVipGuard({ namedRanges: RANGES, allow: ["127.0.0.0/8", "11.9.0.0/16"], nodeAddresses: () => nodes });
    assert.equal(g("127.0.0.1"), undefined);
    assert.equal(g("11.9.1.1"), undefined);
    assert.match(g("11.8.1.1")!, /named-VIP range/);
    assert.match(g("169.254.1.1")!, /link-local/);
    assert.match(g("127.0.0.5")!, /127\.0\.0\.5 is a node's own address/);
    assert.match(g("10.0.0.5")!, /10\.0\.0\.5 is a node's own address/);
    nodes.push("fd00::7");
    assert.match(g("fd00:0::7")!, /fd00::7 is a node's own address/, "compared canonically, read on every call");
  });

  it("a bad ipVipAllow entry is an INVALID_ARGUMENT naming it", () => {
    assert.throws(
      () => ipVipGuard({ namedRanges: RANGES, allow: ["10.0.0.0/8", "nonsense"] }),
      /ipVipAllow\[1\].*"nonsense" is not a CIDR/,
    );
  });

  it("CIDRs: host bits masked, family-strict", () => {
    const c = parseCidr("10.1.2.3/8")!;
    assert.ok(inCidr(c, "10.200.0.1"));
    assert.ok(!inCidr(c, "11.0.0.1"));
    assert.ok(!inCidr(parseCidr("::/0")!, "10.0.0.1"));
    assert.ok(inCidr(parseCidr("0.0.0.0/0")!, "10.0.0.1"));
    for (const bad of ["10.0.0.0/33", "10.0.0.0", "x/8", "fd00::/129"]) assert.equal(parseCidr(bad), undefined, bad);
  });

  it("a node does not serve a refused IP VIP from a document (an older agent's) and says why in its notes", () => {
    const key = parseVipKeyId("tcp/ip:127.0.0.1/80")!;
    const backends = [{ ip: "10.0.0.1", port: 8080, weight: 1, taskId: "t", agentIp: "10.0.0.1" }];
    const inputs = { address: () => undefined, unreachable: new Set<string>(), rewrites: new Map(), ipv6: true };
    const p = planVip({ id: "tcp/ip:127.0.0.1/80", key, backends }, { ...inputs, refuseIp: guard });
    assert.deepEqual(p.dataplane, []);
    assert.match(p.view.notes.join(";"), /not served: 127\.0\.0\.1 is a loopback address/);
    // Without the guard (the check is the only difference) it would be served.
    assert.equal(planVip({ id: "tcp/ip:127.0.0.1/80", key, backends }, inputs).dataplane.length, 1);
  });
});
