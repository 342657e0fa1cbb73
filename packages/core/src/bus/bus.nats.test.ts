import { startNatsServer, type NatsServerHandle } from "../testing/nats-server";
import { busContract } from "./bus.contract";
import { createNatsTransport } from "./nats-transport";

let server: NatsServerHandle;
busContract(
  "NATS (real nats-server)",
  async () => {
    server = await startNatsServer();
    return { transport: () => createNatsTransport({ servers: [server.url], name: "contract", replicas: 1 }) };
  },
  async () => server?.stop(),
);
