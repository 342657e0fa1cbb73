import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { HttpError, splitUrl } from "./http-util";

/**
 * Fuzz of the simulator's request-target parsing (Mesos master and Marathon APIs): random targets
 * (percent-escapes, broken escapes, `//` prefixes that look like an authority, brackets, queries).
 * Contract: a path comes back (starting with `/`, with the query parsed apart), or an HttpError 400
 * naming the target; nothing else (before: `new URL` / `decodeURIComponent` errors became 500s).
 */

const PIECES = [
  "/",
  "//",
  "/v2/apps",
  "/master/state",
  "%",
  "%zz",
  "%41",
  "%2F",
  "%E2%82",
  "%F0%9F%98%80",
  "..",
  "?",
  "?embed=apps.tasks",
  "?a=%zz",
  "#",
  "[",
  "]",
  "@",
  ":",
  "a",
  "x".repeat(2000),
];

describe("mesos-sim splitUrl fuzz", () => {
  it("seed 151: a decoded path or an HttpError 400 naming the target (5000 targets)", () => {
    const rnd = seededRandom(151);
    for (let round = 0; round < 5000; round++) {
      let target = "/";
      for (let n = Math.floor(rnd() * 6); n > 0; n--) target += PIECES[Math.floor(rnd() * PIECES.length)];
      const where = `seed 151 round ${round} ${target.slice(0, 200)}`;
      try {
        const [path, query] = splitUrl(target);
        assert.ok(path.startsWith("/"), where);
        assert.ok(query instanceof URLSearchParams, where);
      } catch (err) {
        assert.ok(err instanceof HttpError && err.status === 400, `${where}: ${String(err)}`);
        assert.match(err.message, /request target|percent-encoding/, where);
      }
    }
  });

  it("// is a path, not a host; a bad escape is a 400 naming the path (regression: both were 500s)", () => {
    assert.deepEqual(splitUrl("//")[0], "//");
    assert.deepEqual(splitUrl("//x/v2/apps")[0], "//x/v2/apps");
    assert.equal(splitUrl("/v2/apps/a%2Fb?embed=x")[0], "/v2/apps/a/b");
    assert.equal(splitUrl("/v2/apps?embed=x")[1].get("embed"), "x");
    assert.throws(
      () => splitUrl("/v2/apps/%zz"),
      (err: unknown) => err instanceof HttpError && err.status === 400 && /"\/v2\/apps\/%zz"/.test(err.message),
    );
  });
});
