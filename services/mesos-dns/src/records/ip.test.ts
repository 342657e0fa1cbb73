import * as assert from "node:assert/strict";
import { isLoopback, parseIp } from "./ip";

describe("records/ip", () => {
  const ok: [string, 4 | 6, string][] = [
    ["1.2.3.4", 4, "1.2.3.4"],
    ["0.0.0.0", 4, "0.0.0.0"],
    ["255.255.255.255", 4, "255.255.255.255"],
    ["2001:db8::1", 6, "2001:db8::1"],
    ["2001:DB8:0:0:0:0:0:1", 6, "2001:db8::1"],
    ["fd01:b::1:8000:2", 6, "fd01:b::1:8000:2"],
    ["::", 6, "::"],
    ["::1", 6, "::1"],
    ["1::", 6, "1::"],
    ["2001:db8:0:1:0:0:0:1", 6, "2001:db8:0:1::1"],
    ["2001:0:0:1:0:0:0:1", 6, "2001:0:0:1::1"], // longest run wins
    ["2001:0:0:1:0:0:1:1", 6, "2001::1:0:0:1:1"], // first on ties
    ["2001:db8:1:1:1:1:0:1", 6, "2001:db8:1:1:1:1:0:1"], // a single zero group is not compressed
    ["::ffff:1.2.3.4", 4, "1.2.3.4"], // IPv4-mapped counts as IPv4
    ["::ffff:0102:0304", 4, "1.2.3.4"],
    ["::1.2.3.4", 6, "::102:304"],
    ["64:ff9b::192.0.2.33", 6, "64:ff9b::c000:221"],
  ];
  for (const [input, family, text] of ok) {
    it(`${input} → IPv${family} ${text}`, () => assert.deepEqual(parseIp(input), { family, text }));
  }
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "256.1.1.1",
    " 1.2.3.4",
    "1.2.3.4 ",
    "localhost",
    "[::1]",
    "::1%eth0",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::1",
    "1.2.3.4:80",
    "g::1",
    ":::",
  ];
  for (const input of bad) {
    it(`${JSON.stringify(input)} is not an IP`, () => assert.equal(parseIp(input), undefined));
  }
  it("loopback", () => {
    assert.ok(isLoopback(parseIp("127.0.0.1")!));
    assert.ok(isLoopback(parseIp("127.1.2.3")!));
    assert.ok(isLoopback(parseIp("::1")!));
    assert.ok(!isLoopback(parseIp("10.0.0.1")!));
    assert.ok(!isLoopback(parseIp("fe80::1")!));
  });
});
