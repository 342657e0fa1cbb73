export * from "./service";
export { CONFIG_KEYS, parseMesosDnsConfig, configForDisplay } from "./config";
export type { MesosDnsConfig, RecordSet } from "./model";
