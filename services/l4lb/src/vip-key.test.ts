import { strict as assert } from "node:assert";
import { parseVipKeyId, vipDnsName, vipKeyId, type VipKey } from "./vip-key";

describe("l4lb VIP key ids", () => {
  const cases: [VipKey, string][] = [
    [{ protocol: "tcp", vip: { kind: "ip", ip: "172.16.0.1" }, port: 80 }, "tcp/ip:172.16.0.1/80"],
    [{ protocol: "udp", vip: { kind: "ip", ip: "fd00::1" }, port: 53 }, "udp/ip:fd00::1/53"],
    [{ protocol: "tcp", vip: { kind: "name", name: "minitwit", framework: "marathon" }, port: 80 }, "tcp/name:minitwit.marathon/80"],
    [
      { protocol: "tcp", vip: { kind: "name", name: "mygroup/myapp", framework: "marathon" }, port: 80 },
      "tcp/name:mygroup%2Fmyapp.marathon/80",
    ],
    [{ protocol: "tcp", vip: { kind: "name", name: "a.b", framework: "c.d" }, port: 1 }, "tcp/name:a%2Eb.c%2Ed/1"],
    [{ protocol: "tcp", vip: { kind: "name", name: "web", framework: "" }, port: 1 }, "tcp/name:web./1"],
  ];
  for (const [key, id] of cases) {
    it(`${id} round-trips`, () => {
      assert.equal(vipKeyId(key), id);
      assert.deepEqual(parseVipKeyId(id), key);
    });
  }

  it("keeps the same name in two frameworks apart", () => {
    const a = vipKeyId({ protocol: "tcp", vip: { kind: "name", name: "a.b", framework: "c" }, port: 1 });
    const b = vipKeyId({ protocol: "tcp", vip: { kind: "name", name: "a", framework: "b.c" }, port: 1 });
    assert.notEqual(a, b);
  });

  for (const bad of [
    "tcp/ip:1.2.3.4/0",
    "sctp/ip:1.2.3.4/80",
    "tcp/ip:FD00::1/80",
    "tcp/name:a.b.c/80",
    "tcp/name:%E0.x/80",
    "tcp/ip:x/80",
  ]) {
    it(`${bad} is not an id`, () => assert.equal(parseVipKeyId(bad), undefined));
  }

  it("DNS names are domain_frag of <name>.<framework> (spec §4.4)", () => {
    assert.equal(vipDnsName({ name: "mygroup/myapp", framework: "marathon" }), "mygroupmyapp.marathon");
    assert.equal(vipDnsName({ name: "minitwit", framework: "marathon" }), "minitwit.marathon");
    assert.equal(vipDnsName({ name: "My_App", framework: "Marathon" }), "my-app.marathon");
  });
});
