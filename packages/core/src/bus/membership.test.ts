import { strict as assert } from "node:assert";
import { NodeIdentity, NodeRole } from "@dcnet/proto";
import { createMemoryHub } from "./memory-transport";
import { Membership, NODES_BUCKET } from "./membership";
import { createBus } from "./signed-bus";

const KEY = "membership-test-key-0123456789";
const ident = (id: string): NodeIdentity => ({
  nodeId: id,
  clusterId: "c",
  address: `10.0.0.${id.slice(1)}`,
  role: NodeRole.NODE_ROLE_AGENT,
  hostname: id,
  version: "test",
});

describe("membership: forgetting unreachable nodes (a controlled clock)", () => {
  it("counts forgetAfterMs from when this node learned of a member, not from its own start: a node joining a long-running cluster is kept until its first heartbeat", async () => {
    const hub = createMemoryHub();
    let clock = 1_000_000;
    const b1 = createBus(hub.transport(), { clusterId: "c", clusterKey: KEY, nodeId: "n1" });
    const b2 = createBus(hub.transport(), { clusterId: "c", clusterKey: KEY, nodeId: "n2" });
    // Long heartbeat interval: only the test's clock decides reachability here.
    const m1 = new Membership(b1, { identity: ident("n1"), intervalMs: 60_000, forgetAfterMs: 10_000, now: () => clock });
    try {
      await m1.start();
      clock += 3_600_000; // n1 has run for an hour
      // n2's record arrives (written by n2 itself), its first heartbeat not yet.
      await (await b2.kv(NODES_BUCKET)).put("n2", NodeIdentity.encode(ident("n2")).finish());
      await b2.flush();
      await new Promise((r) => setImmediate(r));
      assert.equal(m1.get("n2")?.reachable, false, "known from its record, not heard yet");
      clock += 9_000;
      assert.ok(m1.get("n2"), "not forgotten before forgetAfterMs since it was learned of");
      clock += 2_000;
      assert.equal(m1.get("n2"), undefined, "forgotten forgetAfterMs after it was learned of, never heard");
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await (await b1.kv(NODES_BUCKET)).get("n2"), undefined, "its record deleted");
    } finally {
      await m1.stop();
      await b1.close();
      await b2.close();
    }
  });
});
