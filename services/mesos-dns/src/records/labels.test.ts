import * as assert from "node:assert/strict";
import { domainFrag, labelSpec, rfc1123, rfc952, type LabelSpec } from "./labels";
import { rng } from "./testutil";

/** Cases shared by both specs (upstream labels_test.go testFunc). */
const COMMON: [string, string][] = [
  ["", ""],
  ["a", "a"],
  ["-", ""],
  ["a---", "a"],
  ["---a---", "a"],
  ["---a---b", "a---b"],
  ["a.b.c.d.e", "a-b-c-d-e"],
  ["a.c.d_de.", "a-c-d-de"],
  ["abc123", "abc123"],
  ["-abc123", "abc123"],
  ["abc123-", "abc123"],
  ["abc-123", "abc-123"],
  ["abc--123", "abc--123"],
  ["r29f.dev.angrypigs", "r29f-dev-angrypigs"],
  ["hello----------------------------------------------------------f", "hellof"],
  // §3.1
  ["my.app.v2", "my-app-v2"],
  ["ÄÖÜ über$ $pace", "berpace"],
  ["UPPER_case", "upper-case"],
];

const RFC952: [string, string][] = [
  ...COMMON,
  ["4abc123", "abc123"],
  ["-4abc123", "abc123"],
  ["fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg1"],
  ["89fdgsf---gs7-fgs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg1"],
  ["89fdgsf---gs7-fgs--d7fddg---123", "fdgsf---gs7-fgs--d7fddg1"],
  ["89fdgsf---gs7-fgs--d7fddg-", "fdgsf---gs7-fgs--d7fddg"],
  ["chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixe"],
  ["chronos with a space AND----------MIXED--", "chronoswithaspaceandmixe"],
  ["hello--------------------------------------------------------f", "hellof"],
  // §3.1: the refill is not re-trimmed and may end in "-"
  ["abcdefghijklmnopqrstuv---x-y", "abcdefghijklmnopqrstuvx-"],
  ["marathon-0.7.5", "marathon-0-7-5"],
];

const RFC1123: [string, string][] = [
  ...COMMON,
  ["4abc123", "4abc123"],
  ["-4abc123", "4abc123"],
  ["89fdgsf---gs7-fgs--d7fddg-123", "89fdgsf---gs7-fgs--d7fddg-123"],
  ["89fdgsf---gs7-fgs--d7fddg---123", "89fdgsf---gs7-fgs--d7fddg---123"],
  ["89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg"],
  ["fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"],
  [
    "fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123",
    "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
  ],
  [
    "$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123",
    "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
  ],
  [
    "%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123",
    "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
  ],
  ["##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-", "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"],
  ["hello--------------------------------------------------------f", "hello--------------------------------------------------------f"],
  ["chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixedcase-2-0-1"],
];

/** DomainFrag cases shared by both specs (upstream testDomainFrag) and §3.1. */
const FRAG_COMMON: [string, string][] = [
  ["", ""],
  [".", ""],
  ["..", ""],
  ["...", ""],
  ["a", "a"],
  ["abc", "abc"],
  ["abc.", "abc"],
  [".abc", "abc"],
  ["a.c", "a.c"],
  [".a.c", "a.c"],
  ["a.c.", "a.c"],
  ["a..c", "a.c"],
  ["ab.c", "ab.c"],
  ["ab.cd", "ab.cd"],
  ["ab.cd.efg", "ab.cd.efg"],
  ["a.c.e", "a.c.e"],
  ["a..c.e", "a.c.e"],
  ["a.c..e", "a.c.e"],
  ["host.com", "host.com"],
  ["space space.com", "spacespace.com"],
  ["blah-dash.com", "blah-dash.com"],
  ["not$1234.com", "not1234.com"],
  ["(@ host . com", "host.com"],
  ["MiXeDcase.CoM", "mixedcase.com"],
];

const FRAG952: [string, string][] = [
  ...FRAG_COMMON,
  ["pod_123$abc.marathon-0.6.0-dev.mesos", "pod-123abc.marathon-0.dev.mesos"],
  ["marathon-0.7.5", "marathon-0"],
  ["chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixe"],
];

const FRAG1123: [string, string][] = [
  ...FRAG_COMMON,
  ["pod_123$abc.marathon-0.6.0-dev.mesos", "pod-123abc.marathon-0.6.0-dev.mesos"],
  ["marathon-0.7.5", "marathon-0.7.5"],
  ["chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixedcase-2.0.1"],
];

function table(id: string, fn: (s: string) => string, cases: [string, string][]): void {
  describe(id, () => {
    for (const [input, want] of cases) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(fn(input), want));
    }
  });
}

/** Random strings over a nasty alphabet (ASCII specials, dashes, digits, non-ASCII, astral). */
function randomStrings(seed: number, n: number): string[] {
  const r = rng(seed);
  const alphabet = ["-", "-", "-", ".", "_", "0", "7", "9", "a", "z", "A", "Z", " ", "$", "é", "ß", "😀", "\u0000", "\ud800", "İ"];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.floor(r() * 90);
    let s = "";
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(r() * alphabet.length)]!;
    out.push(s);
  }
  return out;
}

function properties(id: string, spec: LabelSpec, max: number, noLeading: RegExp): void {
  it(`${id}: properties on 20000 random strings (charset, length ≤ ${max}, no leading ${noLeading.source})`, () => {
    for (const s of randomStrings(max, 20000)) {
      const l = spec(s);
      assert.match(l, /^[0-9a-z-]*$/, `charset of ${JSON.stringify(s)}`);
      assert.ok(l.length <= max, `length of ${JSON.stringify(s)}`);
      assert.doesNotMatch(l, noLeading, `leading char of ${JSON.stringify(s)}`);
    }
  });
}

describe("records/labels", () => {
  table("RFC952", rfc952, RFC952);
  table("RFC1123", rfc1123, RFC1123);
  table("DomainFrag RFC952", (s) => domainFrag(s, rfc952), FRAG952);
  table("DomainFrag RFC1123", (s) => domainFrag(s, rfc1123), FRAG1123);

  properties("RFC952", rfc952, 24, /^[-0-9]/);
  properties("RFC1123", rfc1123, 63, /^-/);

  it("labelSpec selects RFC952 only when enforced", () => {
    assert.equal(labelSpec(true), rfc952);
    assert.equal(labelSpec(false), rfc1123);
  });

  it("DomainFrag parts never empty, never start with '-'", () => {
    for (const s of randomStrings(7, 5000)) {
      const f = domainFrag(s, rfc1123);
      if (f === "") continue;
      for (const part of f.split(".")) {
        assert.ok(part.length > 0 && !part.startsWith("-"), JSON.stringify(s));
      }
    }
  });
});
