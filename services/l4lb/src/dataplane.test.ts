import { strict as assert } from "node:assert";
import { DcnetError } from "@dcnet/core";
import { MAX_SLOTS, compile, slotsOf } from "./dataplane";

const ep = (ip: string, port = 80) => ({ ip, port });

describe("l4lb data plane model", () => {
  it("weights become interleaved slots; weight 0 gets none", () => {
    const slots = slotsOf(
      [
        { ip: "10.0.0.2", port: 80, weight: 2 },
        { ip: "10.0.0.1", port: 80, weight: 1 },
        { ip: "10.0.0.3", port: 80, weight: 0 },
      ],
      4,
    );
    assert.deepEqual(slots, [ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.2")]);
  });

  it("weights are divided by their gcd, and duplicates merged", () => {
    const slots = slotsOf(
      [
        { ip: "10.0.0.1", port: 80, weight: 4 },
        { ip: "10.0.0.2", port: 80, weight: 2 },
        { ip: "10.0.0.2", port: 80, weight: 1 },
      ],
      4,
    );
    assert.deepEqual(slots, [ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.1")]);
  });

  it("backends are ordered by address as a number, then port", () => {
    const slots = slotsOf(
      [
        { ip: "10.0.0.10", port: 80, weight: 1 },
        { ip: "10.0.0.9", port: 81, weight: 1 },
        { ip: "10.0.0.9", port: 80, weight: 1 },
      ],
      4,
    );
    assert.deepEqual(slots, [ep("10.0.0.9"), ep("10.0.0.9", 81), ep("10.0.0.10")]);
  });

  it("keeps only the VIP's family and canonical addresses", () => {
    const backends = [
      { ip: "FD00::0:1", port: 80, weight: 1 },
      { ip: "10.0.0.1", port: 80, weight: 1 },
    ];
    assert.deepEqual(slotsOf(backends, 6), [ep("fd00::1")]);
    assert.deepEqual(slotsOf(backends, 4), [ep("10.0.0.1")]);
  });

  it("caps the slots", () => {
    const many = Array.from({ length: 3 }, (_, i) => ({ ip: `10.0.0.${i + 1}`, port: 80, weight: 1000 + i }));
    const slots = slotsOf(many, 4);
    assert.ok(slots.length <= MAX_SLOTS && slots.length > MAX_SLOTS - 4);
  });

  it("compiles per family: IPv4 always, IPv6 only with IPv6 VIPs; same VIP twice is merged", () => {
    const s = compile([
      { protocol: "tcp", ip: "11.0.0.1", port: 80, backends: [{ ip: "10.0.0.1", port: 8080, weight: 1 }] },
      { protocol: "tcp", ip: "11.0.0.1", port: 80, backends: [{ ip: "10.0.0.2", port: 8080, weight: 1 }] },
      { protocol: "udp", ip: "11.0.0.1", port: 53, backends: [{ ip: "10.0.0.1", port: 53, weight: 0 }] },
    ]);
    assert.equal(s.ipv6, undefined);
    assert.deepEqual([...s.ipv4!.vips.keys()], ["tcp 11.0.0.1 80", "udp 11.0.0.1 53"]);
    assert.deepEqual(s.ipv4!.vips.get("tcp 11.0.0.1 80")!.slots, [ep("10.0.0.1", 8080), ep("10.0.0.2", 8080)]);
    assert.deepEqual(s.ipv4!.vips.get("udp 11.0.0.1 53")!.slots, []);
    assert.deepEqual([...s.ipv4!.slotChains], ["tcp_slots_2"]);
    assert.deepEqual(compile([]), { ipv4: { vips: new Map(), slotChains: new Set() } });
    const v6 = compile([{ protocol: "tcp", ip: "fd01:c::1", port: 80, backends: [] }]);
    assert.ok(v6.ipv4 && v6.ipv6);
  });

  it("refuses an invalid VIP, naming the field", () => {
    assert.throws(
      () => compile([{ protocol: "tcp", ip: "minitwit", port: 80, backends: [] }]),
      (e: unknown) => e instanceof DcnetError && e.field === "vip.ip",
    );
    assert.throws(
      () => compile([{ protocol: "tcp", ip: "11.0.0.1", port: 0, backends: [] }]),
      (e: unknown) => e instanceof DcnetError && e.field === "vip.port",
    );
  });
});
