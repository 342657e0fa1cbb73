import { services } from "./services";

export function helpText(): string {
  return [
    "dcnet — the DC/OS networking stack (Mesos-DNS, dcos-dns, l4lb, overlay, edge-lb) in TypeScript",
    "",
    "Usage: dcnet <command> [options]",
    "",
    "Commands:",
    "  start [--nodes N] [--grpc-port P] [--http-port P] [--log-level L] [--no-demo]",
    "                               run the embedded stack in this process (in-process bus, loopback):",
    "                               nodes, a Mesos master + Marathon (5050, 8080), 2 agents, a demo app",
    "  run <service> [<service>...] [--config FILE]",
    "                               run services in the foreground, in one process (JSON logs; SIGTERM stops them)",
    "  status [--addr HOST:PORT] [--json]",
    "                               a node's view of itself and the cluster members",
    "  health [--addr HOST:PORT] [--service NAME]",
    "                               grpc.health.v1 check; exit 0 when SERVING",
    "  app deploy [FILE|-] | list | show ID | scale ID N | rm ID  [--marathon URL] [--json]",
    "                               Marathon apps (default URL http://127.0.0.1:8080 or $DCNET_MARATHON)",
    "  dns lookup NAME [TYPE] [--server IP[:PORT]] [--json]",
    "                               a DNS query (default server 198.51.100.1:53 or $DCNET_DNS); exit 0 on NOERROR",
    "  dns zones [--addr HOST:PORT] the zones a dcos-dns serves (gRPC, default 127.0.0.1:50080)",
    "  version                      print the version",
    "  help                         this text",
    "",
    "Services (dcnet run <service>):",
    ...services.map((s) => `  ${s.name.padEnd(29)}${s.description}`),
    "",
    "Configuration: --config FILE (JSON), then environment overrides DCNET_<SECTION>__<KEY>",
    "(e.g. DCNET_BUS__SERVERS=nats://n1:4222,nats://n2:4222, DCNET_CLUSTER__KEY=...).",
    "Invalid values stop the service with an error naming the key.",
  ].join("\n");
}
