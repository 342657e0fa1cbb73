import { strict as assert } from "node:assert";
import { nodeBinding } from "./node-internals";

describe("nodeBinding", () => {
  it("returns the binding when it has the members asked for, and the same object again", () => {
    const b = nodeBinding<{ TCP: unknown }>("tcp_wrap", (x) => typeof x.TCP === "function");
    assert.ok(b, "Node 20 has tcp_wrap.TCP");
    assert.equal(
      nodeBinding<{ TCP: unknown }>("tcp_wrap", () => false),
      b,
      "kept per name",
    );
  });
  it("null when the members differ or the binding does not exist", () => {
    assert.equal(
      nodeBinding<{ nothing: unknown }>("pipe_wrap", (x) => typeof x.nothing === "function"),
      null,
    );
    assert.equal(
      nodeBinding<object>("no_such_binding_here", () => true),
      null,
    );
  });
});
