import { strict as assert } from "node:assert";
import { coalesce } from "./coalesce";

describe("coalesce", () => {
  it("runs once per burst: calls during a run make exactly one more run", async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const run = coalesce(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
    });
    const first = run();
    const during = [run(), run(), run()];
    release();
    await Promise.all([first, ...during]);
    assert.equal(runs, 2);
    await run();
    assert.equal(runs, 3);
  });

  it("lets the next call run after a failed run", async () => {
    let n = 0;
    const run = coalesce(async () => {
      if (++n === 1) throw new Error("boom");
    });
    await assert.rejects(run(), /boom/);
    await run();
    assert.equal(n, 2);
  });
});
