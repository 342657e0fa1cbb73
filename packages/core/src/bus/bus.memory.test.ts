import { createMemoryHub, type MemoryHub } from "./memory-transport";
import { busContract } from "./bus.contract";

let hub: MemoryHub;
busContract(
  "in-process",
  async () => {
    hub = createMemoryHub();
    return { transport: async () => hub.transport() };
  },
  async () => undefined,
);
