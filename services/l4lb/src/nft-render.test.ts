import { strict as assert } from "node:assert";
import { DcnetError } from "@dcnet/core";
import type { DataplaneVip } from "./dataplane";
import { compile } from "./dataplane";
import { renderDelta, renderFull, renderStaged } from "./nft-render";

const vip = (ip: string, port: number, backends: [string, number, number][], protocol: "tcp" | "udp" = "tcp"): DataplaneVip => ({
  protocol,
  ip,
  port,
  backends: backends.map(([bip, bport, weight]) => ({ ip: bip, port: bport, weight })),
});

const A = vip("11.0.0.1", 80, [
  ["10.0.0.1", 8080, 1],
  ["10.0.0.2", 8080, 1],
]);
const B = vip("11.0.0.2", 53, [["10.0.0.1", 53, 0]], "udp");

describe("l4lb nft rendering", () => {
  it("renderFull: our table rebuilt in one script, IPv6 table removed when there are no IPv6 VIPs", () => {
    assert.equal(
      renderFull([A, B]),
      [
        "table ip dcnet_l4lb {}",
        "delete table ip dcnet_l4lb",
        "table ip dcnet_l4lb {",
        "  map vips { type ipv4_addr . inet_proto . inet_service : verdict; }",
        "  map backends_tcp { typeof ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport; }",
        "  map backends_udp { typeof ip daddr . udp dport . numgen random mod 1 : ip daddr . udp dport; }",
        "  chain prerouting { type nat hook prerouting priority dstnat - 1; policy accept; ip daddr . meta l4proto . th dport vmap @vips; }",
        "  chain output { type nat hook output priority -101; policy accept; ip daddr . meta l4proto . th dport vmap @vips; }",
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; ct status dnat ct mark & 0x04000000 == 0x04000000 masquerade; }",
        "  chain reject_tcp { reject with tcp reset; }",
        "  chain reject_udp { reject; }",
        "  chain tcp_slots_2 { ct mark set ct mark | 0x04000000 meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 2 map @backends_tcp; meta l4proto tcp reject with tcp reset; }",
        "}",
        "add element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 0 : 10.0.0.1 . 8080, 11.0.0.1 . 80 . 1 : 10.0.0.2 . 8080 }",
        "add element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 : goto tcp_slots_2, 11.0.0.2 . udp . 53 : goto reject_udp }",
        "table ip6 dcnet_l4lb {}",
        "delete table ip6 dcnet_l4lb",
        "",
      ].join("\n"),
    );
  });

  it("renderFull: options (table, mark, balance) and IPv6 addresses in brackets", () => {
    const s = renderFull([vip("fd01:c::1", 80, [["fd00::1", 80, 1]])], { table: "t1", ctMark: 0x10, balance: "inc" });
    assert.match(s, /^table ip t1 \{\}$/m);
    assert.match(s, /^table ip6 t1 \{$/m);
    assert.match(s, /ct mark set ct mark \| 0x00000010 .* numgen inc mod 1 map @backends_tcp/);
    assert.match(s, /^add element ip6 t1 backends_tcp \{ \[fd01:c::1\] \. 80 \. 0 : \[fd00::1\] \. 80 \}$/m);
    assert.match(s, /^add element ip6 t1 vips \{ \[fd01:c::1\] \. tcp \. 80 : goto tcp_slots_1 \}$/m);
    assert.throws(() => renderFull([], { table: "bad name" }), DcnetError);
    assert.throws(() => renderFull([], { ctMark: 0 }), DcnetError);
  });

  it("renderStaged: the tables without elements, then parts of about equal size, each VIP whole in one part with its vips element", () => {
    const vips: DataplaneVip[] = [];
    for (let i = 0; i < 40; i++) {
      const backends: [string, number, number][] = Array.from({ length: 1 + (i % 5) }, (_, j) => [`10.1.${i}.${j + 1}`, 8080, 1]);
      vips.push(vip(`11.0.1.${i + 1}`, 80, backends, i % 3 === 0 ? "udp" : "tcp"));
    }
    vips.push(vip("fd01:c::1", 443, [["fd00::1", 8443, 1]]));
    const state = compile(vips);
    const staged = renderStaged(state, 4);
    // The tables: maps and chains, no elements; the tables are the same as renderFull's.
    assert.doesNotMatch(staged.tables, /add element/);
    const full = renderFull(state);
    for (const line of staged.tables.split("\n").filter((l) => l !== "")) assert.ok(full.includes(line), line);
    const parts = staged.parts.map((p) => p());
    assert.equal(parts.length, 4);
    const elementsOf = (text: string): string[] =>
      [...text.matchAll(/^add element (\S+ \S+ \S+) \{ (.*) \}$/gm)].flatMap((m) => m[2]!.split(", ").map((e) => `${m[1]} ${e}`));
    // Together: exactly renderFull's elements.
    assert.deepEqual(parts.flatMap(elementsOf).sort(), elementsOf(full).sort());
    // Each VIP (its vips element and every slot) in one part.
    const total = 41 + vips.reduce((n, v) => n + v.backends.length, 0);
    for (const text of parts) {
      const els = elementsOf(text);
      assert.ok(els.length <= Math.ceil(total / 4) + 5, `${els.length} elements in a part`);
      for (const e of els.filter((x) => / vips /.test(x))) {
        const [, fam, ip, , port] = /^(ip6?) \S+ vips (\S+) \. (tcp|udp) \. (\d+)/.exec(e)!;
        const slots = els.filter((x) => x.startsWith(`${fam} dcnet_l4lb backends_`) && x.includes(` ${ip} . ${port} . `));
        const n = Number(/goto (?:tcp|udp)_slots_(\d+)/.exec(e)?.[1] ?? 0);
        assert.equal(slots.length, n, e);
      }
    }
  });

  it("elements go in batches: one add element statement per map for up to 2,000 elements", () => {
    const big = (n: number): DataplaneVip =>
      vip(
        `11.0.2.${n}`,
        80,
        Array.from({ length: 1000 }, (_, j): [string, number, number] => [`10.${n}.${j >> 7}.${(j & 127) + 1}`, 8080, 1]),
      );
    const text = renderFull([big(1), big(2), big(3)]);
    const stmts = [...text.matchAll(/^add element ip dcnet_l4lb (\S+) \{ (.*) \}$/gm)].map((m) => [m[1], m[2]!.split(", ").length]);
    assert.deepEqual(stmts, [
      ["backends_tcp", 2000],
      ["backends_tcp", 1000],
      ["vips", 3],
    ]);
  });

  it("renderDelta: nothing changed → empty script", () => {
    assert.equal(renderDelta([A, B], [B, A]), "");
  });

  it("renderDelta: a drained backend leaves its slot, the VIP moves to a smaller dispatch chain", () => {
    const drained = vip("11.0.0.1", 80, [
      ["10.0.0.1", 8080, 1],
      ["10.0.0.2", 8080, 0],
    ]);
    assert.deepEqual(renderDelta([A, B], [drained, B]).trimEnd().split("\n"), [
      "add chain ip dcnet_l4lb tcp_slots_1",
      "add rule ip dcnet_l4lb tcp_slots_1 ct mark set ct mark | 0x04000000 meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 1 map @backends_tcp",
      "add rule ip dcnet_l4lb tcp_slots_1 meta l4proto tcp reject with tcp reset",
      "delete element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 }",
      "delete element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 1 }",
      "add element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 : goto tcp_slots_1 }",
      "flush chain ip dcnet_l4lb tcp_slots_2",
      "delete chain ip dcnet_l4lb tcp_slots_2",
    ]);
  });

  it("renderDelta: a backend replaced in place is one delete and one add; all drained → reject", () => {
    const moved = vip("11.0.0.1", 80, [
      ["10.0.0.1", 8080, 1],
      ["10.0.0.3", 8080, 1],
    ]);
    assert.deepEqual(renderDelta([A], [moved]).trimEnd().split("\n"), [
      "delete element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 1 }",
      "add element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 1 : 10.0.0.3 . 8080 }",
    ]);
    const allDrained = vip("11.0.0.1", 80, [["10.0.0.1", 8080, 0]]);
    assert.deepEqual(renderDelta([A], [allDrained]).trimEnd().split("\n"), [
      "delete element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 }",
      "delete element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 0, 11.0.0.1 . 80 . 1 }",
      "add element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 : goto reject_tcp }",
      "flush chain ip dcnet_l4lb tcp_slots_2",
      "delete chain ip dcnet_l4lb tcp_slots_2",
    ]);
  });

  it("renderDelta: VIPs added and removed; IPv6 table created and dropped with its VIPs", () => {
    const v6 = vip("fd01:c::5", 443, [["fd00::5", 8443, 1]]);
    const up = renderDelta([A], [A, B, v6]);
    assert.match(up, /^add element ip dcnet_l4lb vips \{ 11\.0\.0\.2 \. udp \. 53 : goto reject_udp \}$/m);
    assert.match(up, /^table ip6 dcnet_l4lb \{$/m);
    assert.match(up, /^add element ip6 dcnet_l4lb vips \{ \[fd01:c::5\] \. tcp \. 443 : goto tcp_slots_1 \}$/m);
    assert.doesNotMatch(up, /delete table ip dcnet_l4lb/);
    const down = renderDelta([A, B, v6], [B]);
    assert.deepEqual(down.trimEnd().split("\n"), [
      "delete element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 }",
      "delete element ip dcnet_l4lb backends_tcp { 11.0.0.1 . 80 . 0, 11.0.0.1 . 80 . 1 }",
      "flush chain ip dcnet_l4lb tcp_slots_2",
      "delete chain ip dcnet_l4lb tcp_slots_2",
      "table ip6 dcnet_l4lb {}",
      "delete table ip6 dcnet_l4lb",
    ]);
  });

  it("renderDelta: one change among 10,000 VIPs touches only that VIP", () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      vip(
        `11.0.${i >> 8}.${i & 255}`,
        80,
        Array.from({ length: 10 }, (_, j): [string, number, number] => [`10.${j}.${i >> 8}.${i & 255}`, 8080, 1]),
      ),
    );
    const next = [...many];
    next[1234] = vip("11.0.4.210", 80, [["10.9.9.9", 8080, 1]]);
    const t0 = process.hrtime.bigint();
    const delta = renderDelta(many, next);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const lines = delta.trimEnd().split("\n");
    assert.ok(
      lines.every((l) => !/^add element|^delete element/.test(l) || l.includes("11.0.4.210 ")),
      delta,
    );
    assert.ok(lines.length <= 10, delta);
    assert.ok(ms < 2000, `renderDelta took ${ms} ms`);
  });
});
