import { strict as assert } from "node:assert";
import { parseVipLabel, type VipTarget } from "./vip-label";

const parse = (value: string) => parseVipLabel({ key: "VIP_0", value });

describe("l4lb VIP label grammar (spec §4.1)", () => {
  const valid: [string, VipTarget][] = [
    ["/minitwit:80", { kind: "name", name: "minitwit", port: 80 }],
    ["minitwit:80", { kind: "name", name: "minitwit", port: 80 }],
    ["/mygroup/myapp:8080", { kind: "name", name: "mygroup/myapp", port: 8080 }],
    ["my.app_x:1", { kind: "name", name: "my.app_x", port: 1 }],
    ["172.16.0.1:80", { kind: "ip", ip: "172.16.0.1", family: 4, port: 80 }],
    ["fd00::1:80", { kind: "ip", ip: "fd00::1", family: 6, port: 80 }],
    ["FD00:0::1:65535", { kind: "ip", ip: "fd00::1", family: 6, port: 65535 }],
    ["[fd00::1]:443", { kind: "ip", ip: "fd00::1", family: 6, port: 443 }],
    [" minitwit:80 ", { kind: "name", name: "minitwit", port: 80 }],
    ["minitwit:080", { kind: "name", name: "minitwit", port: 80 }],
  ];
  for (const [value, vip] of valid) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(vip)}`, () => assert.deepEqual(parse(value), { ok: true, vip }));
  }

  const invalid: [string, string][] = [
    ["", 'VIP_0 value "" is empty'],
    ["foo", 'VIP_0 value "foo" has no port'],
    ["foo:", 'VIP_0 value "foo:" has no port'],
    ["foo:bar", 'VIP_0 value "foo:bar" has port "bar", not a number'],
    ["foo:-1", 'VIP_0 value "foo:-1" has port "-1", not a number'],
    ["foo:0", 'VIP_0 value "foo:0" has port 0 out of range 1–65535'],
    ["foo:65536", 'VIP_0 value "foo:65536" has port 65536 out of range 1–65535'],
    [":80", 'VIP_0 value ":80" has no address or name before the port'],
    ["/:80", 'VIP_0 value "/:80" has an empty name'],
    ["10.0.0.256:80", 'VIP_0 value "10.0.0.256:80" has "10.0.0.256", not an IPv4 address'],
    ["010.0.0.1:80", 'VIP_0 value "010.0.0.1:80" has "010.0.0.1", not an IPv4 address'],
    ["[10.0.0.1]:80", 'VIP_0 value "[10.0.0.1]:80" has "[10.0.0.1]", not an IPv6 address in brackets'],
    ["fd00:::1:80", 'VIP_0 value "fd00:::1:80" has "fd00:::1", neither an IP address nor a name (a name cannot contain ":", "[" or "]")'],
    ["tcp://minitwit:80", 'VIP_0 value "tcp://minitwit:80" has a scheme (only the legacy VIP_PORT<n> labels take tcp:// or udp://)'],
  ];
  for (const [value, reason] of invalid) {
    it(`${JSON.stringify(value)} is refused`, () => assert.deepEqual(parse(value), { ok: false, reason }));
  }

  it("names the label key in the reason", () => {
    assert.deepEqual(parseVipLabel({ key: "vip_web", value: "x" }), { ok: false, reason: 'vip_web value "x" has no port' });
  });
});
