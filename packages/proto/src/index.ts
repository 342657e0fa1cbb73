import * as path from "node:path";

export * from "./gen/dcnet/core/v1/identity";
export * from "./gen/dcnet/core/v1/envelope";
export * from "./gen/dcnet/core/v1/node_service";
export * as mesosv1 from "./gen/dcnet/mesos/v1/mesos_sim";
export * as mesosdnsv1 from "./gen/dcnet/mesosdns/v1/mesos_dns";

/** Path of the FileDescriptorSet (`buf build -o`) of every dcnet proto, used for server reflection. */
export const descriptorSetPath = path.join(__dirname, "..", "src", "gen", "descriptor.binpb");
export * as dcosdnsv1 from "./gen/dcnet/dcosdns/v1/dcos_dns";
export * as l4lbv1 from "./gen/dcnet/l4lb/v1/l4lb";
