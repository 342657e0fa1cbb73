export * from "./service";
export { createMesosMaster, type MesosMaster } from "./master/master";
export { masterSection, type MasterConfig } from "./master/config";
export { createMesosAgent, HEARTBEAT_SUBJECT, type MesosAgent, type MesosAgentDeps } from "./agent/agent";
export { agentSection, agentObject, type AgentConfig, type AgentConfigInput } from "./agent/config";
export { parseApp } from "./marathon/app-json";
export type { NormalizedApp } from "./model/app";
export type { TaskLaunch, AgentRecord, ContainerNetworkProvider } from "./model/launch";
export type { MasterState, MesosTask, TaskStatus } from "./model/mesos";
