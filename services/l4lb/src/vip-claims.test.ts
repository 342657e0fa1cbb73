import { strict as assert } from "node:assert";
import { Code, DcnetError, checkKey, createBus, createMemoryHub, type Bus, type KvStore } from "@dcnet/core";
import { startAddress, vipRange } from "./allocate";
import {
  claimVipAddress,
  claimedNames,
  createReleaseTracker,
  escapeName,
  lookupVipAddress,
  releaseVipAddress,
  unescapeName,
  vipKeys,
} from "./vip-claims";

const enc = (s: string) => new TextEncoder().encode(s);

describe("l4lb named VIP claims on the bus", () => {
  let buses: Bus[] = [];
  let kvs: KvStore[] = [];
  let seq = 0;

  beforeEach(async () => {
    const hub = createMemoryHub();
    const cluster = `l4lb-claims-${++seq}`;
    buses = ["node-a", "node-b", "node-c"].map((nodeId) =>
      createBus(hub.transport(), { clusterId: cluster, clusterKey: "l4lb-test-cluster-key-000001", nodeId }),
    );
    kvs = await Promise.all(buses.map((b) => b.kv("l4lb")));
  });
  afterEach(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });

  describe("key names", () => {
    const names = ["minitwit.marathon", "mygroupmyapp.marathon", "a..b", ".x", "x.", "Ünïcode.fw", "under_score.x", "sp ace"];
    for (const name of names) {
      it(`${JSON.stringify(name)} → a valid key that decodes back`, () => {
        const k = vipKeys.name(name, 4);
        assert.doesNotThrow(() => checkKey(k));
        assert.equal(unescapeName(k.slice("l4lb.vipname.ipv4.".length)), name);
      });
    }
    it("keeps readable names readable", () => {
      assert.equal(vipKeys.name("minitwit.marathon", 4), "l4lb.vipname.ipv4.minitwit.marathon");
      assert.equal(escapeName("a_b"), "a_5fb");
      assert.equal(vipKeys.ip("11.0.0.5"), "l4lb.vipip.11.0.0.5");
      assert.equal(vipKeys.ip("FD01:C::5"), "l4lb.vipip.fd01-c--5");
      assert.doesNotThrow(() => checkKey(vipKeys.ip("fd01:c::")));
      assert.throws(() => escapeName(""), DcnetError);
    });
  });

  it("the first claim gets the hash start; the same name gets the same address on every node", async () => {
    const ip = await claimVipAddress(kvs[0]!, "minitwit.marathon", 4);
    assert.equal(ip, startAddress("minitwit.marathon", vipRange(4)));
    assert.equal(await claimVipAddress(kvs[1]!, "minitwit.marathon", 4), ip);
    assert.equal(await claimVipAddress(kvs[2]!, "minitwit.marathon", 4), ip);
    assert.equal(await claimVipAddress(kvs[0]!, "minitwit.marathon", 4), ip);
    assert.equal(await lookupVipAddress(kvs[1]!, "minitwit.marathon", 4), ip);
    const v6 = await claimVipAddress(kvs[1]!, "minitwit.marathon", 6);
    assert.equal(v6, "fd01:c::71b3:e922:ef35:be03");
    assert.deepEqual(await claimedNames(kvs[2]!, 4), ["minitwit.marathon"]);
  });

  it("colliding names walk forward", async () => {
    const range = vipRange(4, { min: "11.0.0.0", max: "11.0.0.3" });
    // n0, n3, n8 all start at 11.0.0.2 in this range.
    for (const n of ["n0", "n3", "n8"]) assert.equal(startAddress(n, range), "11.0.0.2");
    assert.equal(await claimVipAddress(kvs[0]!, "n0", 4, { range }), "11.0.0.2");
    assert.equal(await claimVipAddress(kvs[1]!, "n3", 4, { range }), "11.0.0.3");
    assert.equal(await claimVipAddress(kvs[2]!, "n8", 4, { range }), "11.0.0.0");
  });

  it("concurrent allocators with colliding hashes never hand out one address twice, and agree per name", async () => {
    const range = vipRange(4, { min: "11.0.0.0", max: "11.0.0.15" });
    const names = Array.from({ length: 16 }, (_, i) => `svc-${i}.marathon`);
    // Node n claims every name in its own order (rotated, every other node reversed), all at once;
    // 16 names in 16 addresses, so nearly every claim collides with another.
    const orderFor = (n: number, round: number) => {
      const rotated = names.map((_, i) => names[(i + n * 5 + round) % names.length]!);
      return n % 2 ? rotated.reverse() : rotated;
    };
    for (let round = 0; round < 10; round++) {
      const bucket = await Promise.all(buses.map((b) => b.kv(`l4lb-round-${round}`)));
      const results = await Promise.all(
        bucket.map(
          async (kv, n) =>
            new Map(
              await Promise.all(orderFor(n, round).map(async (name) => [name, await claimVipAddress(kv, name, 4, { range })] as const)),
            ),
        ),
      );
      const first = results[0]!;
      for (const r of results)
        for (const name of names) assert.equal(r.get(name), first.get(name), `round ${round}: ${name} differs between nodes`);
      assert.equal(new Set(first.values()).size, names.length, `round ${round}: an address was handed out twice`);
      for (const name of names) assert.equal(await lookupVipAddress(bucket[0]!, name, 4), first.get(name));
      assert.equal((await bucket[0]!.keys("l4lb.vipip.>")).length, names.length, `round ${round}: a lost race left a reservation behind`);
    }
  });

  it("a full range is RESOURCE_EXHAUSTED", async () => {
    const range = vipRange(4, { min: "11.0.0.0", max: "11.0.0.1" });
    await claimVipAddress(kvs[0]!, "a", 4, { range });
    await claimVipAddress(kvs[0]!, "b", 4, { range });
    await assert.rejects(
      claimVipAddress(kvs[1]!, "c", 4, { range }),
      (e: unknown) => e instanceof DcnetError && e.code === Code.RESOURCE_EXHAUSTED,
    );
  });

  it("release frees the address for another name; a re-claim starts over", async () => {
    const range = vipRange(4, { min: "11.0.0.0", max: "11.0.0.3" });
    assert.equal(await claimVipAddress(kvs[0]!, "n0", 4, { range }), "11.0.0.2");
    assert.equal(await claimVipAddress(kvs[0]!, "n3", 4, { range }), "11.0.0.3");
    assert.equal(await releaseVipAddress(kvs[1]!, "n0", 4), "11.0.0.2");
    assert.equal(await releaseVipAddress(kvs[1]!, "n0", 4), undefined);
    assert.equal(await lookupVipAddress(kvs[2]!, "n0", 4), undefined);
    assert.equal(await claimVipAddress(kvs[2]!, "n8", 4, { range }), "11.0.0.2");
    assert.equal(await claimVipAddress(kvs[2]!, "n0", 4, { range }), "11.0.0.0");
    assert.equal(await claimVipAddress(kvs[0]!, "n3", 4, { range }), "11.0.0.3");
  });

  it("repairs a name whose address record is missing, and moves a name whose address another name owns", async () => {
    const range = vipRange(4, { min: "11.0.0.0", max: "11.0.0.3" });
    const kv = kvs[0]!;
    // Missing vipip: recreated, same address.
    await kv.create(vipKeys.name("n0", 4), enc("11.0.0.2"));
    assert.equal(await claimVipAddress(kvs[1]!, "n0", 4, { range }), "11.0.0.2");
    assert.equal(new TextDecoder().decode((await kv.get(vipKeys.ip("11.0.0.2")))!.value), "n0");
    // A release that raced a claim: n3's answer points at an address n0 owns → n3 moves.
    await kv.create(vipKeys.name("n3", 4), enc("11.0.0.2"));
    const moved = await claimVipAddress(kvs[2]!, "n3", 4, { range });
    assert.equal(moved, "11.0.0.3");
    assert.equal(await lookupVipAddress(kv, "n3", 4), "11.0.0.3");
    assert.equal(await claimVipAddress(kvs[1]!, "n0", 4, { range }), "11.0.0.2");
  });

  it("a claim that loses the race for the name gives its reservation back", async () => {
    const range = vipRange(4, { min: "11.0.0.0", max: "11.0.0.3" });
    const kv = kvs[0]!;
    let injected = false;
    // Another node publishes n0 → 11.0.0.1 right after this claim reserved 11.0.0.2.
    const racing: KvStore = Object.assign(Object.create(kv) as KvStore, {
      create: async (key: string, value: Uint8Array) => {
        const rev = await kv.create(key, value);
        if (!injected && key === vipKeys.ip("11.0.0.2")) {
          injected = true;
          await kvs[1]!.create(vipKeys.ip("11.0.0.1"), enc("n0"));
          await kvs[1]!.create(vipKeys.name("n0", 4), enc("11.0.0.1"));
        }
        return rev;
      },
    });
    assert.equal(await claimVipAddress(racing, "n0", 4, { range }), "11.0.0.1");
    assert.ok(injected);
    assert.equal(await kv.get(vipKeys.ip("11.0.0.2")), undefined, "the losing reservation is still there");
    assert.deepEqual(await kv.keys("l4lb.vipip.>"), [vipKeys.ip("11.0.0.1")]);
  });

  it("refuses a range of the other family", async () => {
    await assert.rejects(claimVipAddress(kvs[0]!, "x", 6, { range: vipRange(4) }), DcnetError);
  });

  describe("release grace period", () => {
    it("releases a name only after it has been unused for the whole period", () => {
      const t = createReleaseTracker(1000);
      assert.deepEqual(t.due(["a", "b"], new Set(["a"]), 0), []);
      assert.deepEqual(t.due(["a", "b"], new Set(["a"]), 999), []);
      assert.deepEqual(t.due(["a", "b"], new Set(["a"]), 1000), ["b"]);
    });

    it("use in between restarts the period; a name no longer claimed is forgotten", () => {
      const t = createReleaseTracker(1000);
      t.due(["a"], new Set(), 0);
      t.due(["a"], new Set(["a"]), 500);
      assert.deepEqual(t.due(["a"], new Set(), 600), []);
      assert.deepEqual(t.due(["a"], new Set(), 1599), []);
      assert.deepEqual(t.due(["a"], new Set(), 1600), ["a"]);
      t.due([], new Set(), 1700);
      assert.deepEqual(t.due(["a"], new Set(), 1800), []);
    });
  });
});
