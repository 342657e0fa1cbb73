export * from "./service";
export { DCOS_DNS_NESTED, dcosDnsConfigSchema, loadDcosDnsConfig, type DcosDnsConfig } from "./config";
export { Authority } from "./authority";
export { Router } from "./router";
export * from "./zone";
export { encodeZone, decodeZone, zoneKey, ZONE_BUCKET, type ZoneVersion } from "./zone-codec";
export { deltaSubject, encodeDelta, decodeDelta, DELTA_SUBJECTS, type ZoneDelta } from "./zone-delta";
export { dcosZone } from "./task-records";
