export * from "./task";
export * from "./sanitize";
export * from "./entities";
export * from "./master-stream";
export * from "./agent-poller";
export { RecordIoDecoder, RecordIoError } from "./recordio";
