export * from "./wire";
export * from "./truncate";
export * from "./ip";
export * from "./exchange";
export * from "./listener";
export * from "./testing";
export { rawUdpAvailable } from "./raw-udp";
export { batchUdpUnavailable, DEFAULT_UDP_BATCH } from "./batch-udp";
export { WireKeyTable } from "./wire-table";
