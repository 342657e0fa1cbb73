import { strict as assert } from "node:assert";
import { vipRange } from "./allocate";
import { cidrText, formatIp, parseIp, rangeCidrs, type Family } from "./ip";
import { routeCover } from "./route-cover";

describe("routeCover: which local route carries a VIP address", () => {
  it("rangeCidrs holds exactly the range: aligned, in order, no gap, no overlap, fewest blocks", () => {
    const cases: [Family, string, string, number][] = [
      [4, "11.0.0.0", "11.255.255.255", 1],
      [4, "11.0.0.0", "11.255.255.254", 24],
      [4, "10.0.0.5", "10.0.0.5", 1],
      [4, "10.0.0.1", "10.0.1.0", 9],
      [6, "fd01:c::", "fd01:c::ffff:ffff:ffff:ffff", 1],
    ];
    for (const [family, lo, hi, count] of cases) {
      const min = parseIp(lo)!.value;
      const max = parseIp(hi)!.value;
      const cs = rangeCidrs(family, min, max);
      assert.equal(cs.length, count, `${lo}-${hi}: ${cs.map(cidrText).join(" ")}`);
      let next = min;
      const bits = family === 4 ? 32 : 128;
      for (const c of cs) {
        assert.equal(c.value, next, `${cidrText(c)} starts where the previous ended`);
        const size = 1n << BigInt(bits - c.len);
        assert.equal(c.value % size, 0n, `${cidrText(c)} is aligned`);
        next = c.value + size;
      }
      assert.equal(next, max + 1n, `${lo}-${hi} ends at ${formatIp(family, max)}`);
    }
    assert.deepEqual(rangeCidrs(4, 5n, 4n), [], "an empty range has no prefix");
  });

  it("addresses of a covered range map to their prefix, others to themselves", () => {
    const key = routeCover([vipRange(4, { min: "11.0.0.0", max: "11.255.255.254" }), vipRange(6)]);
    assert.equal(key("11.0.0.1"), "11.0.0.0/9");
    assert.equal(key("11.130.3.4"), "11.128.0.0/10");
    assert.equal(key("11.255.255.254"), "11.255.255.254/32");
    assert.equal(key("11.255.255.255"), "11.255.255.255", "just past the range: its own route");
    assert.equal(key("172.16.0.1"), "172.16.0.1");
    assert.equal(key("fd01:c::1"), "fd01:c::/64");
    assert.equal(key("fd01:d::1"), "fd01:d::1");
    assert.equal(key("11.0.0.1"), "11.0.0.0/9", "the same answer the second time");
  });

  it("no ranges: every address is its own route", () => {
    const key = routeCover([]);
    assert.equal(key("11.0.0.1"), "11.0.0.1");
  });
});
