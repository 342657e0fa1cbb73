import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { dnsLabel, domainFrag } from "./sanitize";

describe("dnsLabel (MSTATE label/1)", () => {
  const cases: [string, string, string][] = [
    ["Marathon task name of /mygroup/myapp", "myapp.mygroup", "myapp-mygroup"],
    ["uppercase is lowered", "MyApp_V2", "myapp-v2"],
    ["leading garbage dropped", "--__..!!myapp", "myapp"],
    ["leading '-' dropped", "-4abc123", "4abc123"],
    ["digits may lead", "4abc123", "4abc123"],
    ["other characters dropped inside", "fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"],
    ["dashes kept inside", "89fdgsf---gs7-fgs--d7fddg---123", "89fdgsf---gs7-fgs--d7fddg---123"],
    ["trailing '-' stripped", "89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg"],
    ["0-0", "0-0", "0-0"],
    ["unicode dropped", "ünïcødé-äpp 😀", "ncd-pp"],
    ["only garbage → empty", "$$$---", ""],
    ["empty", "", ""],
    ["slashes dropped", "/mygroup/myapp", "mygroupmyapp"],
    // MSTATE remap_test: the 63-character cap.
    [
      "cap: trailing '-' then garbage",
      "##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-",
      "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789",
    ],
    [
      "cap hit on '-': stripped, then filled with [a-z0-9] only",
      "fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123",
      "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
    ],
    [
      "cap hit on '---'",
      "%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123",
      "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
    ],
    [
      "cap hit, $$ prefix",
      "$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123",
      "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
    ],
    ["exactly 63 kept", "a".repeat(63), "a".repeat(63)],
    ["longer cut at 63", "b".repeat(100), "b".repeat(63)],
    ["63rd char '-' stripped at the cap", `${"c".repeat(62)}-xyz`, `${"c".repeat(62)}x`],
  ];
  for (const [what, input, want] of cases) {
    it(`${what}: ${JSON.stringify(input).slice(0, 40)} → ${JSON.stringify(want).slice(0, 40)}`, () => assert.equal(dnsLabel(input), want));
  }

  it("any input gives a valid label: [a-z0-9-], ≤ 63, no leading or trailing '-'", () => {
    const rnd = seededRandom(7);
    const alphabet = "aZ09-_. /$%ü😀\u0000\n";
    for (let n = 0; n < 3000; n++) {
      const len = Math.floor(rnd() * 120);
      let s = "";
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)] ?? "";
      const l = dnsLabel(s);
      assert.match(l, /^([a-z0-9]([a-z0-9-]*[a-z0-9])?)?$/, JSON.stringify(s));
      assert.ok(l.length <= 63);
    }
  });
});

describe("domainFrag (MSTATE domain_frag/1)", () => {
  const cases: [string, string][] = [
    ["/mygroup/myapp.marathon", "mygroupmyapp.marathon"],
    ["myapp.mygroup", "myapp.mygroup"],
    ["..a..B_c.", "a.b-c"],
    ["", ""],
    ["Web.Frame-Work", "web.frame-work"],
    // Parts are dropped when empty before sanitising, not after (as upstream).
    ["a.$$$.b", "a..b"],
  ];
  for (const [input, want] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(domainFrag(input), want));
});
