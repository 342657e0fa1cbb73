import { strict as assert } from "node:assert";
import { createLogger, createRegistry, type Registry } from "@dcnet/core";
import type { DataplaneVip } from "./dataplane";
import { createNftDriver, type NftDriver } from "./driver-nft";
import { createNft, type ChainRead } from "./nft-apply";
import { chainDrift, expectedFromProbe, type ExpectedChains } from "./nft-drift";
import { PROBE_SLOTS, renderRuleProbe } from "./nft-render";
import { addNetns, delNetns, inNs, nftUnavailable } from "./testutil-netns";

const vip = (ip: string, port: number, backends: [string, number][], protocol: "tcp" | "udp" = "tcp"): DataplaneVip => ({
  protocol,
  ip,
  port,
  backends: backends.map(([bip, bport]) => ({ ip: bip, port: bport, weight: 1 })),
});

describe("nft rule drift (pure)", () => {
  const probe = new Map<string, ChainRead>([
    ["prerouting", { rules: ["P"] }],
    ["output", { rules: ["P"] }],
    ["postrouting", { rules: ["M"] }],
    ["reject_tcp", { rules: ["RT"] }],
    ["reject_udp", { rules: ["RU"] }],
    [`tcp_slots_${PROBE_SLOTS}`, { rules: [`{"numgen":{"mod":${PROBE_SLOTS}}}`, "R"] }],
  ]);
  const want = expectedFromProbe(probe)!;
  const base = (hook: string, prio: number) => ({ type: "nat", hook, prio, policy: "accept" });
  const table = (over: [string, ChainRead][] = []): Map<string, ChainRead> =>
    new Map<string, ChainRead>([
      ["prerouting", { base: base("prerouting", -101), rules: ["P"] }],
      ["output", { base: base("output", -101), rules: ["P"] }],
      ["postrouting", { base: base("postrouting", 100), rules: ["M"] }],
      ["reject_tcp", { rules: ["RT"] }],
      ["reject_udp", { rules: ["RU"] }],
      ["tcp_slots_3", { rules: ['{"numgen":{"mod":3}}', "R"] }],
      ...over,
    ]);

  it("our table as rendered has no drift", () => {
    assert.deepEqual(chainDrift(4, table(), want), { drifted: [], problems: [] });
  });

  it("a flushed chain, a missing, an extra or an edited rule is drift; so is a dispatch chain with the wrong mod", () => {
    const d = chainDrift(
      4,
      table([
        ["output", { base: base("output", -101), rules: [] }],
        ["postrouting", { base: base("postrouting", 100), rules: [] }],
        ["prerouting", { base: base("prerouting", -101), rules: ["P", "counter"] }],
        ["reject_udp", { rules: ["accept"] }],
        ["tcp_slots_3", { rules: ['{"numgen":{"mod":2}}', "R"] }],
      ]),
      want,
    );
    assert.deepEqual(d.drifted.sort(), ["output", "postrouting", "prerouting", "reject_udp", "tcp_slots_3"]);
    assert.deepEqual(d.problems, []);
  });

  it("a chain that is not ours is ignored; a dispatch chain of a protocol the probe did not show is not checked", () => {
    const d = chainDrift(
      4,
      table([
        ["someone_else", { rules: ["x"] }],
        ["udp_slots_2", { rules: ["anything"] }],
      ]),
      want,
    );
    assert.deepEqual(d, { drifted: [], problems: [] });
  });

  it("a base chain hooked otherwise is a problem (the table is rebuilt)", () => {
    const d = chainDrift(6, table([["output", { base: { ...base("output", 0) }, rules: ["P"] }]]), want);
    assert.deepEqual(d.problems, [
      "ip6: chain output is type nat hook output priority 0 policy accept, not type nat hook output priority -101 policy accept",
    ]);
    const e = chainDrift(4, table([["postrouting", { rules: ["M"] }]]), want);
    assert.match(e.problems[0]!, /chain postrouting is not a base chain/);
  });

  it("a probe that does not show our chains gives no expectation (rules then go unchecked)", () => {
    assert.equal(expectedFromProbe(new Map([["prerouting", { rules: ["P"] }]])), undefined);
    const noMod = expectedFromProbe(new Map([...probe, [`tcp_slots_${PROBE_SLOTS}`, { rules: ["no mod here"] }]])) as ExpectedChains;
    assert.equal(noMod.slots.tcp, undefined);
  });
});

describe("nft reconcile repairs rule drift (real nft in a network namespace)", function () {
  this.timeout(30_000);
  const ns = `dcnet-l4lb-drift-${process.pid}`;
  const TABLE = "dcnet_l4lb_drift";
  let driver: NftDriver;
  let registry: Registry;
  const lines: Record<string, unknown>[] = [];

  const transactions = async (): Promise<number> => {
    const m = await registry.getSingleMetric("l4lb_nft_duration_seconds")?.get();
    return (
      m?.values.find(
        (v) => (v as { metricName?: string }).metricName === "l4lb_nft_duration_seconds_count" && v.labels["op"] === "reconcile",
      )?.value ?? 0
    );
  };
  /** What drifted in the kernel's table now, per family (empty when its rules are ours). */
  const driftNow = async (): Promise<string[]> => {
    const nft = createNft({ netns: ns, table: TABLE });
    const read = await nft.read();
    const out: string[] = [];
    for (const f of [4, 6] as const) {
      const probe = await nft.probeChains(f, `${TABLE}_check`, renderRuleProbe(f, `${TABLE}_check`));
      const d = chainDrift(f, read.chains[f === 4 ? "ipv4" : "ipv6"]!, expectedFromProbe(probe)!);
      out.push(...d.drifted.map((c) => `${f}:${c}`), ...d.problems);
    }
    return out;
  };
  const restored = (): string[][] =>
    lines
      .filter((l) => /rules of our nft chains differ/.test(String(l["msg"])))
      .map((l) => [String(l["family"]), ...(l["chains"] as string[])]);

  before(async function () {
    const why = await nftUnavailable();
    if (why) {
      console.warn(`    nft rule drift tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(ns);
    registry = createRegistry({ defaultMetrics: false });
    driver = await createNftDriver({
      logger: createLogger({
        service: "l4lb-test",
        level: "warn",
        destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
      }),
      netns: ns,
      table: TABLE,
      routes: false,
      reconcileIntervalMs: 0,
      registry,
    });
    await driver.apply([
      vip("11.0.0.1", 80, [
        ["10.1.0.1", 8080],
        ["10.1.0.2", 8080],
      ]),
      vip("11.0.0.2", 53, [["10.1.0.1", 5353]], "udp"),
      vip("fd01:c::1", 80, [["fd00::1", 8080]]),
    ]);
  });
  after(async () => {
    await driver?.close();
    await delNetns(ns);
  });
  beforeEach(() => void lines.splice(0));

  it("a table as applied: reconcile finds nothing (the probe table is gone again)", async () => {
    assert.equal(await driver.reconcile(), 0);
    assert.deepEqual(await driftNow(), []);
    assert.deepEqual(restored(), []);
    const tables = await inNs(ns, "nft", ["list", "tables"]);
    assert.doesNotMatch(tables, /_probe/);
  });

  it("output flushed: reconcile puts its rule back in one transaction and says so", async () => {
    await inNs(ns, "nft", ["flush", "chain", "ip", TABLE, "output"]);
    assert.deepEqual(await driftNow(), ["4:output"]);
    const before = await transactions();
    assert.equal(await driver.reconcile(), 1);
    assert.equal((await transactions()) - before, 1, "one nft transaction");
    assert.deepEqual(await driftNow(), []);
    assert.deepEqual(restored(), [["4", "output"]]);
  });

  it("the masquerade rule deleted (by handle) and a rule added to prerouting: both repaired", async () => {
    const listing = await inNs(ns, "nft", ["-a", "list", "chain", "ip", TABLE, "postrouting"]);
    const handle = /masquerade # handle (\d+)/.exec(listing)?.[1];
    assert.ok(handle, listing);
    await inNs(ns, "nft", ["delete", "rule", "ip", TABLE, "postrouting", "handle", handle]);
    await inNs(ns, "nft", ["insert", "rule", "ip", TABLE, "prerouting", "ip", "daddr", "11.0.0.1", "accept"]);
    assert.deepEqual((await driftNow()).sort(), ["4:postrouting", "4:prerouting"]);
    assert.equal(await driver.reconcile(), 2);
    assert.deepEqual(await driftNow(), []);
    assert.match(
      await inNs(ns, "nft", ["list", "chain", "ip", TABLE, "postrouting"]),
      /ct status dnat ct mark & 0x04000000 == 0x04000000 masquerade/,
    );
  });

  it("a dispatch chain edited and the IPv6 table's output flushed, together with a slot: one transaction", async () => {
    await inNs(ns, "nft", ["flush", "chain", "ip", TABLE, "tcp_slots_2"]);
    await inNs(ns, "nft", ["add", "rule", "ip", TABLE, "tcp_slots_2", "accept"]);
    await inNs(ns, "nft", ["flush", "chain", "ip6", TABLE, "output"]);
    // A slot pointed elsewhere (the table still fits the model: a delta repairs it).
    await inNs(
      ns,
      "nft",
      ["-f", "-"],
      `delete element ip ${TABLE} backends_tcp { 11.0.0.1 . 80 . 1 }\nadd element ip ${TABLE} backends_tcp { 11.0.0.1 . 80 . 1 : 10.9.9.9 . 8080 }\n`,
    );
    const before = await transactions();
    assert.equal(await driver.reconcile(), 3);
    assert.equal((await transactions()) - before, 1);
    assert.deepEqual(await driftNow(), []);
    assert.deepEqual(restored().sort(), [
      ["4", "tcp_slots_2"],
      ["6", "output"],
    ]);
    const read = await createNft({ netns: ns, table: TABLE }).read();
    assert.deepEqual(read.state.ipv4?.vips.get("tcp 11.0.0.1 80")?.slots[1], { ip: "10.1.0.2", port: 8080 });
  });

  it("a base chain whose priority changed (not repairable in place): the table is rebuilt", async () => {
    await inNs(ns, "nft", ["delete", "chain", "ip", TABLE, "output"]).catch(async () => {
      await inNs(ns, "nft", ["flush", "chain", "ip", TABLE, "output"]);
      await inNs(ns, "nft", ["delete", "chain", "ip", TABLE, "output"]);
    });
    await inNs(ns, "nft", ["add", "chain", "ip", TABLE, "output", "{ type nat hook output priority 0; policy accept; }"]);
    assert.ok((await driver.reconcile()) >= 1);
    assert.deepEqual(await driftNow(), []);
    const chain = JSON.parse(await inNs(ns, "nft", ["-j", "list", "chain", "ip", TABLE, "output"])) as {
      nftables: { chain?: { prio?: number } }[];
    };
    assert.equal(chain.nftables.find((x) => x.chain)?.chain?.prio, -101);
    assert.ok(lines.some((l) => /does not fit the model: rebuilding/.test(String(l["msg"]))));
  });
});
