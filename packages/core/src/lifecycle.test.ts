import { strict as assert } from "node:assert";
import { Lifecycle } from "./lifecycle";
import { createLogger } from "./log";

describe("lifecycle", () => {
  const log = createLogger({ service: "test", level: "silent" });

  it("starts in order and stops in reverse order, once", async () => {
    const events: string[] = [];
    const lc = new Lifecycle(log);
    for (const n of ["bus", "grpc", "http"])
      lc.add(
        n,
        async () => void events.push(`start ${n}`),
        async () => void events.push(`stop ${n}`),
      );
    await lc.start();
    await Promise.all([lc.stop(), lc.stop()]);
    assert.deepEqual(events, ["start bus", "start grpc", "start http", "stop http", "stop grpc", "stop bus"]);
  });

  it("a failed start stops what had started and rethrows", async () => {
    const events: string[] = [];
    const lc = new Lifecycle(log)
      .add(
        "bus",
        async () => void events.push("start bus"),
        async () => void events.push("stop bus"),
      )
      .add(
        "grpc",
        async () => {
          throw new Error("port in use");
        },
        async () => void events.push("stop grpc"),
      )
      .add(
        "http",
        async () => void events.push("start http"),
        async () => void events.push("stop http"),
      );
    await assert.rejects(lc.start(), /port in use/);
    assert.deepEqual(events, ["start bus", "stop bus"]);
  });

  it("stop() while a component is starting: it is stopped too (so its start gives up), then what started; the rest never start", async () => {
    const events: string[] = [];
    let giveUp: () => void = () => undefined;
    const lc = new Lifecycle(log)
      .add(
        "bus",
        async () => void events.push("start bus"),
        async () => void events.push("stop bus"),
      )
      .add(
        "first reload",
        () => new Promise<void>((_ok, fail) => (giveUp = () => fail(new Error("stopped before the first successful reload")))),
        async () => {
          events.push("stop first reload");
          giveUp();
        },
      )
      .add(
        "dns",
        async () => void events.push("start dns"),
        async () => void events.push("stop dns"),
      );
    const started = lc.start();
    await new Promise((r) => setImmediate(r));
    await lc.stop();
    await assert.rejects(started, /stopped before the first successful reload/);
    assert.deepEqual(events, ["start bus", "stop first reload", "stop bus"]);
  });

  it("a start that completes after stop() stopped it is stopped again, and start() rejects", async () => {
    const events: string[] = [];
    let finish: () => void = () => undefined;
    const lc = new Lifecycle(log)
      .add(
        "http",
        () => new Promise<void>((ok) => (finish = () => (events.push("start http"), ok()))),
        async () => void events.push("stop http"),
      )
      .add(
        "grpc",
        async () => void events.push("start grpc"),
        async () => void events.push("stop grpc"),
      );
    const started = lc.start();
    await new Promise((r) => setImmediate(r));
    await lc.stop();
    finish();
    await assert.rejects(started, /stopped while starting http/);
    assert.deepEqual(events, ["stop http", "start http", "stop http"]);
  });

  it("keeps stopping the rest when one stop fails", async () => {
    const events: string[] = [];
    const lc = new Lifecycle(log)
      .add(
        "a",
        async () => undefined,
        async () => void events.push("stop a"),
      )
      .add(
        "b",
        async () => undefined,
        async () => {
          throw new Error("stuck");
        },
      );
    await lc.start();
    await lc.stop();
    assert.deepEqual(events, ["stop a"]);
  });
});
