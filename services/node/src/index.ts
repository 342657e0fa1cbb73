export * from "./config";
export * from "./agent";
export * from "./node-service";
