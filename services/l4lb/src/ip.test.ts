import { strict as assert } from "node:assert";
import { canonicalIp, formatIp, parseIp } from "./ip";

describe("l4lb ip", () => {
  const canonical: [string, string][] = [
    ["11.0.0.1", "11.0.0.1"],
    ["FD01:C::", "fd01:c::"],
    ["fd01:000c:0:0:0:0:0:1", "fd01:c::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
    ["1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"],
    ["::ffff:1.2.3.4", "::ffff:102:304"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
  ];
  for (const [input, want] of canonical) it(`${input} → ${want}`, () => assert.equal(canonicalIp(input), want));

  for (const bad of ["", "11.0.0", "010.0.0.1", "256.0.0.1", "fd01::c::1", "fe80::1%eth0", "minitwit", "[fd00::1]"]) {
    it(`"${bad}" is not an address`, () => assert.equal(parseIp(bad), undefined));
  }

  it("round-trips numbers", () => {
    assert.deepEqual(parseIp("11.255.255.254"), { family: 4, value: 0x0bfffffen });
    assert.equal(formatIp(6, (0xfd01000cn << 96n) + 0xffffffffffffffffn), "fd01:c::ffff:ffff:ffff:ffff");
    assert.throws(() => formatIp(4, 1n << 32n), RangeError);
  });
});
