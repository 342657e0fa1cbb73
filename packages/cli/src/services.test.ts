import { strict as assert } from "node:assert";
import { mesosDnsGrpcPort } from "./services";

describe("cli services: DCNET_MESOS_DNS_GRPC_PORT", () => {
  it("unset → 50070, off → none, a port as given", () => {
    assert.equal(mesosDnsGrpcPort(undefined), 50070);
    assert.equal(mesosDnsGrpcPort("off"), undefined);
    assert.equal(mesosDnsGrpcPort("0"), 0);
    assert.equal(mesosDnsGrpcPort("50071"), 50071);
  });

  it("anything else is an error naming the variable", () => {
    for (const bad of ["", "abc", "-1", "70000", "1.5", "50070x"]) {
      assert.throws(
        () => mesosDnsGrpcPort(bad),
        (e: Error & { field?: string }) =>
          e.field === "DCNET_MESOS_DNS_GRPC_PORT" && /^DCNET_MESOS_DNS_GRPC_PORT: must be a port 0-65535 or "off", got/.test(e.message),
        bad,
      );
    }
  });
});
