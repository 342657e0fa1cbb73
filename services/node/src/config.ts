import { busSection, clusterSection, defaultIPv4, listenSection, logSection, z } from "@dcnet/core";

/** `dcnet run node` config: file (JSON) + DCNET_* environment overrides. */
export const nodeConfigSchema = z.object({
  cluster: clusterSection,
  bus: busSection,
  node: z
    .object({
      /** Node id, unique in the cluster; default: the address. Letters, digits, `-`, `_`, `.`. */
      id: z
        .string()
        .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "letters, digits, dashes, underscores and dots")
        .optional(),
      /** Address other nodes reach this node at; default: the first non-loopback IPv4. */
      address: z.string().min(1).optional(),
      role: z.enum(["master", "agent", "public_agent"]).default("agent"),
      hostname: z.string().min(1).optional(),
    })
    .default({}),
  grpc: listenSection(50051),
  http: listenSection(9100),
  log: logSection,
});

export type NodeConfig = z.output<typeof nodeConfigSchema>;

/** Kept for callers of this package: the node's default address. */
export const defaultAddress = defaultIPv4;
