import { strict as assert } from "node:assert";
import { compile, type DataplaneState, type DataplaneVip } from "./dataplane";
import { NftError, createNft, parseTable, type Nft } from "./nft-apply";
import { renderDelta, renderFull, renderStaged } from "./nft-render";
import { addNetns, delNetns, inNs, nftUnavailable } from "./testutil-netns";

const vip = (ip: string, port: number, backends: [string, number, number][], protocol: "tcp" | "udp" = "tcp"): DataplaneVip => ({
  protocol,
  ip,
  port,
  backends: backends.map(([bip, bport, weight]) => ({ ip: bip, port: bport, weight })),
});

/** A state as plain data, for deepEqual. */
const plain = (s: DataplaneState) =>
  Object.fromEntries(
    Object.entries(s).map(([f, fs]) => [
      f,
      {
        vips: Object.fromEntries([...fs!.vips].sort(([a], [b]) => a.localeCompare(b))),
        slotChains: [...fs!.slotChains].sort((a, b) => a - b),
      },
    ]),
  );

describe("l4lb nft read-back (parseTable)", () => {
  it("reads vips, slots and dispatch chains; reports what does not fit", () => {
    const json = {
      nftables: [
        { metainfo: { version: "1.0.6" } },
        { table: { family: "ip", name: "dcnet_l4lb" } },
        {
          map: {
            family: "ip",
            name: "vips",
            table: "dcnet_l4lb",
            elem: [
              [{ concat: ["11.0.0.1", "tcp", 80] }, { goto: { target: "tcp_slots_2" } }],
              [{ concat: ["11.0.0.2", "udp", 53] }, { goto: { target: "reject_udp" } }],
              [{ concat: ["11.0.0.3", "tcp", 80] }, { goto: { target: "tcp_slots_2" } }],
              [{ concat: ["11.0.0.4", 17, 53] }, { goto: { target: "udp_slots_1" } }],
            ],
          },
        },
        {
          map: {
            family: "ip",
            name: "backends_tcp",
            table: "dcnet_l4lb",
            elem: [
              [{ concat: ["11.0.0.1", 80, 0] }, { concat: ["10.0.0.1", 8080] }],
              [{ elem: { val: { concat: ["11.0.0.1", 80, 1] } } }, { concat: ["10.0.0.2", 8080] }],
              [{ concat: ["11.0.0.3", 80, 1] }, { concat: ["10.0.0.2", 8080] }],
              [{ concat: ["11.0.0.9", 80, 0] }, { concat: ["10.0.0.2", 8080] }],
            ],
          },
        },
        {
          map: {
            family: "ip",
            name: "backends_udp",
            table: "dcnet_l4lb",
            elem: [[{ concat: ["11.0.0.4", 53, 0] }, { concat: ["10.0.0.1", 53] }]],
          },
        },
        ...["prerouting", "output", "postrouting", "reject_tcp", "reject_udp", "tcp_slots_2"].map((name) => ({
          chain: { family: "ip", table: "dcnet_l4lb", name },
        })),
      ],
    };
    const problems: string[] = [];
    const fs = parseTable(4, json, problems);
    assert.deepEqual(fs.vips.get("tcp 11.0.0.1 80")!.slots, [
      { ip: "10.0.0.1", port: 8080 },
      { ip: "10.0.0.2", port: 8080 },
    ]);
    assert.deepEqual(fs.vips.get("udp 11.0.0.2 53")!.slots, []);
    assert.deepEqual(fs.vips.get("udp 11.0.0.4 53")!.slots, [{ ip: "10.0.0.1", port: 53 }]);
    assert.deepEqual([...fs.slotChains], ["tcp_slots_2"]);
    assert.deepEqual(problems, [
      "ip: tcp 11.0.0.3 80 has slots that are not 0…0",
      "ip: backends for tcp 11.0.0.9 80, which is not in vips",
      "ip: tcp 11.0.0.3 80 goes to tcp_slots_2 but has 0 slots",
      "ip: chain udp_slots_1 is missing",
    ]);
    const missing: string[] = [];
    parseTable(6, { nftables: [] }, missing);
    assert.deepEqual(missing.slice(0, 3), [
      "ip6: map vips is missing",
      "ip6: map backends_tcp is missing",
      "ip6: map backends_udp is missing",
    ]);
  });
});

describe("l4lb nft in a network namespace (real nft)", function () {
  this.timeout(30_000);
  const ns = `dcnet-l4lb-test-${process.pid}`;
  let nft: Nft;

  const A = vip("11.0.0.1", 80, [
    ["10.0.0.1", 8080, 1],
    ["10.0.0.2", 8080, 1],
  ]);
  const B = vip("11.0.0.2", 53, [["10.0.0.1", 53, 0]], "udp");
  const C = vip("fd01:c::1", 443, [
    ["fd00::1", 8443, 2],
    ["fd00::2", 8443, 1],
  ]);

  before(async function () {
    const why = await nftUnavailable();
    if (why) {
      console.warn(`    l4lb nft tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(ns);
    nft = createNft({ netns: ns });
  });
  after(() => delNetns(ns));

  it("applies renderFull and reads back exactly the compiled state", async () => {
    await nft.apply(renderFull([A, B, C]));
    const read = await nft.read();
    assert.deepEqual(read.problems, []);
    assert.deepEqual(plain(read.state), plain(compile([A, B, C])));
    // And the elements are there as nft shows them.
    const json = JSON.parse(await inNs(ns, "nft", ["-j", "list", "map", "ip6", "dcnet_l4lb", "backends_tcp"])) as { nftables: unknown[] };
    assert.equal(JSON.stringify(json).match(/"fd00::1"/g)?.length, 2);
  });

  it("applies renderDelta on top and reads back the next state", async () => {
    const next = [
      vip("11.0.0.1", 80, [
        ["10.0.0.1", 8080, 1],
        ["10.0.0.2", 8080, 0],
        ["10.0.0.3", 8080, 1],
      ]),
      vip("11.0.0.3", 80, [["10.0.0.4", 80, 1]]),
      vip("11.0.0.2", 53, [["10.0.0.1", 53, 1]], "udp"),
    ];
    const delta = renderDelta([A, B, C], next);
    assert.match(delta, /delete table ip6 dcnet_l4lb/);
    await nft.apply(delta);
    const read = await nft.read();
    assert.deepEqual(read.problems, []);
    assert.deepEqual(plain(read.state), plain(compile(next)));
    assert.equal(await nft.listTable(6), undefined);
    // A delta from a state the kernel does not have fails as a whole (nothing applied), naming nft's complaint.
    const wrong = renderDelta([...next, vip("11.0.0.9", 80, [["10.0.0.9", 80, 1]])], next);
    await assert.rejects(nft.apply(wrong), (e: unknown) => e instanceof NftError && /No such file or directory/.test(e.message));
    assert.deepEqual(plain((await nft.read()).state), plain(compile(next)));
  });

  it("reconciles drift: a consistent read is repaired with a delta, an inconsistent one with a rebuild", async () => {
    const desired = [A, B, C];
    await nft.apply(renderFull(desired));
    // Someone deleted a whole VIP: still a consistent table, the delta puts it back.
    await inNs(
      ns,
      "nft",
      ["-f", "-"],
      "delete element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 }\ndelete element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 0, 11.0.0.1 . 80 . 1 }\n",
    );
    let read = await nft.read();
    assert.deepEqual(read.problems, []);
    const repair = renderDelta(read.state, desired);
    assert.match(repair, /add element ip dcnet_l4lb vips \{ 11\.0\.0\.1 \. tcp \. 80 : goto tcp_slots_2 \}/);
    await nft.apply(repair);
    assert.deepEqual(plain((await nft.read()).state), plain(compile(desired)));
    // Only one slot deleted: inconsistent, rebuilt.
    await inNs(ns, "nft", ["delete", "element", "ip", "dcnet_l4lb", "backends_tcp", "{ 11.0.0.1 . 80 . 0 }"]);
    read = await nft.read();
    assert.ok(read.problems.length > 0);
    await nft.apply(renderFull(desired));
    read = await nft.read();
    assert.deepEqual(read.problems, []);
    assert.deepEqual(plain(read.state), plain(compile(desired)));
  });

  it("applyParts: parts as transactions of their own through two sessions; a failed part is named and the parts before it stay", async () => {
    const vips: DataplaneVip[] = [];
    for (let i = 0; i < 60; i++)
      vips.push(
        vip(`11.0.3.${i + 1}`, 80, [
          [`10.3.${i}.1`, 8080, 1],
          [`10.3.${i}.2`, 8080, 1 + (i % 3)],
        ]),
      );
    vips.push(C);
    for (const session of [true, false]) {
      const runner = createNft({ netns: ns, session });
      try {
        const staged = renderStaged(compile(vips), 6);
        await runner.apply(staged.tables);
        await runner.applyParts(staged.parts, 2);
        const read = await runner.read();
        assert.deepEqual(read.problems, []);
        assert.deepEqual(plain(read.state), plain(compile(vips)));
        // One lane, the third part broken: parts 1 and 2 are in, 3 is not (nothing of it), 4… never started.
        const again = renderStaged(compile(vips), 6);
        await runner.apply(again.tables);
        const parts: (() => string)[] = again.parts.map((p, i) =>
          i === 2 ? () => `${p()}add element ip dcnet_l4lb nosuchmap { 1.2.3.4 }\n` : p,
        );
        let rendered = 0;
        await assert.rejects(
          runner.applyParts(
            parts.map((p) => () => (rendered++, p())),
            1,
          ),
          (e: unknown) => {
            assert.ok(e instanceof NftError);
            assert.match(e.message, /\(part 3 of 6\) failed/);
            assert.match(e.stderr, /nosuchmap/);
            return true;
          },
        );
        assert.equal(rendered, 3);
        const partial = (await runner.read()).state.ipv4!;
        const want = compile(vips).ipv4!;
        const firstTwo = [...want.vips.keys()].filter((k) => partial.vips.has(k));
        assert.ok(firstTwo.length > 0 && firstTwo.length < want.vips.size, `${firstTwo.length} VIPs in`);
        for (const k of firstTwo) assert.deepEqual(partial.vips.get(k), want.vips.get(k));
      } finally {
        runner.close();
      }
    }
  });

  it("surfaces nft's error text, and an empty script is a no-op", async () => {
    await nft.apply("");
    await assert.rejects(nft.apply("add element ip dcnet_l4lb nosuchmap { 1.2.3.4 }\n"), (e: unknown) => {
      assert.ok(e instanceof NftError);
      assert.match(e.message, /^ip netns exec .* nft -f - failed \(exit 1\): /);
      assert.match(e.stderr, /nosuchmap/);
      return true;
    });
  });
});
