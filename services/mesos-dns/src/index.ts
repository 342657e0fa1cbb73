export * from "./service";
export { parseMesosDnsConfig, configForDisplay } from "./config";
export type { MesosDnsConfig, RecordSet } from "./model";
