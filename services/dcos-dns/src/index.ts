export * from "./service";
export { dcosDnsConfigSchema, loadDcosDnsConfig, type DcosDnsConfig } from "./config";
export { Authority } from "./authority";
export { Router } from "./router";
export * from "./zone";
export { encodeZone, decodeZone, zoneKey, ZONE_BUCKET } from "./zone-codec";
export { dcosZone } from "./task-records";
