import { strict as assert } from "node:assert";
import { Code, DcnetError } from "@dcnet/core";
import { allocateLocal, inRange, probeOrder, rangeSize, startAddress, vipRange } from "./allocate";

describe("l4lb named VIP allocation (spec §4.4)", () => {
  const v4 = vipRange(4);
  const v6 = vipRange(6);

  it("default ranges are DC/OS's", () => {
    assert.equal(rangeSize(v4), 0xffffffn);
    assert.equal(rangeSize(v6), 1n << 64n);
  });

  // Pinned values (also checked with Python's hashlib): changing the hash moves every named VIP.
  it("start = min + SHA-256(name)[0..8) mod size", () => {
    assert.equal(startAddress("minitwit.marathon", v4), "11.31.82.166");
    assert.equal(startAddress("minitwit.marathon", v6), "fd01:c::71b3:e922:ef35:be03");
    assert.equal(startAddress("mygroupmyapp.marathon", v4), "11.42.248.121");
  });

  it("walks forward from the start, wraps to min, and visits every address once", () => {
    const small = vipRange(4, { min: "11.0.0.0", max: "11.0.0.3" });
    const order = [...probeOrder("n0", small)];
    assert.equal(order[0], startAddress("n0", small));
    assert.equal(order[0], "11.0.0.2");
    assert.deepEqual(order, ["11.0.0.2", "11.0.0.3", "11.0.0.0", "11.0.0.1"]);
  });

  it("a local allocation skips taken addresses and is undefined when the range is full", () => {
    const small = vipRange(4, { min: "11.0.0.0", max: "11.0.0.3" });
    const taken = new Set(["11.0.0.2", "11.0.0.3"]);
    assert.equal(
      allocateLocal("n0", small, (ip) => taken.has(ip)),
      "11.0.0.0",
    );
    assert.equal(
      allocateLocal("n0", small, () => true),
      undefined,
    );
  });

  it("every start lies in the range", () => {
    const r = vipRange(6, { min: "fd01:c::fff0", max: "fd01:c::ffff" });
    for (let i = 0; i < 200; i++) assert.ok(inRange(r, startAddress(`name-${i}`, r)));
    assert.ok(!inRange(r, "fd01:c::1"));
    assert.ok(!inRange(r, "11.0.0.1"));
  });

  it("configurable ranges are checked, naming the field", () => {
    const fails = (f: () => unknown, field: string) =>
      assert.throws(f, (e: unknown) => e instanceof DcnetError && e.code === Code.INVALID_ARGUMENT && e.field === field);
    fails(() => vipRange(4, { min: "fd01::", max: "11.0.0.1" }), "l4lb.namedIpv4.min");
    fails(() => vipRange(6, { min: "fd01::", max: "nope" }), "l4lb.namedIpv6.max");
    fails(() => vipRange(4, { min: "11.0.0.2", max: "11.0.0.1" }, "vip4"), "vip4");
    assert.equal(rangeSize(vipRange(4, { min: "10.0.0.1", max: "10.0.0.1" })), 1n);
  });
});
