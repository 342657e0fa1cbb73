import * as os from "node:os";
import * as path from "node:path";
import { defaultIPv4, z } from "@dcnet/core";
import { parseCidr } from "./subnet";

/** The agent's default IP: the host's first non-loopback IPv4. */
export const defaultAgentIp = defaultIPv4;

const ipv4 = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, "must be an IPv4 address");

const cidr = z.string().superRefine((v, ctx) => {
  try {
    const s = parseCidr(v);
    if (s.prefix > 29) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "prefix must be /29 or wider (room for tasks)" });
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
  }
});

const bridgeSection = z
  .object({
    /**
     * Interface name (≤ 15 characters) of the agent's Linux bridge (in the
     * agent's switch namespace) and of the host-side leg holding the gateway.
     * Several agents in one network namespace need distinct names.
     */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, "an interface name: at most 15 letters, digits, '-', '_', '.'")
      .default("dcnet-br0"),
    /** Subnet of bridge-mode task IPs; its first address is the gateway on the host. Distinct per agent. */
    subnet: cidr.default("172.31.0.0/24"),
    /** "auto": bridge mode when root, iproute2, nftables and netns work; "off": bridge tasks fail. */
    enabled: z.enum(["auto", "off"]).default("auto"),
  })
  .default({});

/** The `agent` config section of a simulated Mesos agent. */
export const agentObject = z.object({
  /** Agent id, unique in the cluster; default `agent-<ip>`. */
  id: z.string().min(1).max(200).optional(),
  /** The agent's IP: host-mode tasks listen there, HOST is set to it. Default: first non-loopback IPv4. */
  ip: ipv4.optional(),
  /** Default: the OS hostname. */
  hostname: z.string().min(1).optional(),
  /** Bind address of the agent HTTP API. */
  host: z.string().min(1).default("0.0.0.0"),
  /** Agent HTTP API (`/state`, `/api/v1`, `/metrics`); 0 = any free port. */
  port: z.number().int().min(0).max(65535).default(5051),
  /** Inclusive host-port range offered to tasks. */
  portRange: z
    .tuple([z.number().int().min(1).max(65535), z.number().int().min(1).max(65535)])
    .refine(([lo, hi]) => lo <= hi, "portRange: low must not exceed high")
    .default([31000, 32000]),
  cpus: z.number().positive().default(4),
  mem: z.number().positive().default(8192),
  disk: z.number().positive().default(16384),
  /** Sandboxes live in `<workDir>/<agentId>/<taskId>/`. */
  workDir: z.string().min(1).default(path.join(os.tmpdir(), "dcnet-mesos-sim")),
  bridge: bridgeSection,
  heartbeatMs: z.number().int().min(50).max(60_000).default(1000),
  /** Mesos agent attributes (reported in the AgentRecord and /state). */
  attributes: z.record(z.string()).default({}),
  /** Completed tasks kept for `/state` (oldest dropped first). */
  maxCompletedTasks: z.number().int().min(0).max(100_000).default(200),
});

/** With runtime defaults resolved (ip, id, hostname). */
export const agentSection = agentObject.default({}).transform((c) => {
  const ip = c.ip ?? defaultAgentIp();
  return { ...c, ip, id: c.id ?? `agent-${ip}`, hostname: c.hostname ?? os.hostname() };
});

export type AgentConfig = z.output<typeof agentSection>;
export type AgentConfigInput = z.input<typeof agentSection>;
