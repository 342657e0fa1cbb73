import { strict as assert } from "node:assert";
import type * as os from "node:os";
import { pickIPv4 } from "./net";

const iface = (address: string, internal = false): os.NetworkInterfaceInfo => ({
  address,
  netmask: "255.255.255.0",
  family: "IPv4",
  mac: "00:00:00:00:00:00",
  internal,
  cidr: null,
});

describe("defaultIPv4 (pickIPv4)", () => {
  it("skips our task bridge and Docker's interfaces when a real one exists", () => {
    const got = pickIPv4({
      lo: [iface("127.0.0.1", true)],
      "dcnet-br0": [iface("10.251.1.1")],
      docker0: [iface("172.17.0.1")],
      eth0: [iface("10.201.0.130")],
    });
    assert.equal(got, "10.201.0.130");
  });

  it("falls back to a virtual interface, then to 127.0.0.1", () => {
    assert.equal(pickIPv4({ lo: [iface("127.0.0.1", true)], "dcnet-br0": [iface("10.251.1.1")] }), "10.251.1.1");
    assert.equal(pickIPv4({ lo: [iface("127.0.0.1", true)] }), "127.0.0.1");
  });
});
