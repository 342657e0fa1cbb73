import { createHash } from "node:crypto";
import type { ContainerNetworkProvider, TaskLaunch } from "../model/launch";
import type { NetworkInfo } from "../model/mesos";
import type { BridgeNetwork } from "./bridge";
import { createNetns, deleteNetns, netnsPath } from "./netns";
import { resolveMappings } from "./ports";
import type { Endpoint } from "./probes";

export const NO_OVERLAY = "virtual networks (container mode) need the overlay agent, which is not running on this agent";
export const bridgeUnavailableMessage = (reason: string): string => `bridge networking needs root, iproute2 and nftables: ${reason}`;

/** A task's network: where it runs (netns), its IPs as reported, how health checks reach its ports. */
export interface TaskNetwork {
  mode: TaskLaunch["network"]["mode"];
  ips: string[];
  netns?: string;
  networkInfos: NetworkInfo[];
  endpoint: Endpoint;
  release(): Promise<void>;
}

/** A launch the agent cannot network; the message goes into TASK_FAILED. */
export class NetworkSetupError extends Error {}

const ipInfo = (ip: string) => ({ protocol: "IPv4" as const, ip_address: ip });

export interface NetworkingDeps {
  agentIp: string;
  bridge?: BridgeNetwork;
  /** Why bridge mode is off (when `bridge` is undefined). */
  bridgeUnavailable?: string;
  provider?: ContainerNetworkProvider;
  /** Prefix of container-mode namespaces (`dcnet-<short>-`). */
  netnsPrefix: string;
}

/** Host mode: the agent's namespace. Bridge: bridge.ts. Container: a namespace handed to the overlay provider. */
export async function attachNetwork(launch: TaskLaunch, deps: NetworkingDeps): Promise<TaskNetwork> {
  const net = launch.network;
  if (net.mode === "host") {
    return {
      mode: "host",
      ips: [deps.agentIp],
      networkInfos: [{ ip_addresses: [ipInfo(deps.agentIp)] }],
      endpoint: (i) => (launch.hostPorts[i] === undefined ? undefined : { host: deps.agentIp, port: launch.hostPorts[i]! }),
      release: async () => undefined,
    };
  }
  const mappings = resolveMappings(net.portMappings, launch.hostPorts);
  const endpoint =
    (ip: string): Endpoint =>
    (i) =>
      mappings[i] && mappings[i]!.containerPort > 0 ? { host: ip, port: mappings[i]!.containerPort } : undefined;
  const portMappings = mappings
    .filter((m) => m.hostPort > 0)
    .map((m) => ({ host_port: m.hostPort, container_port: m.containerPort, protocol: m.protocol }));

  if (net.mode === "bridge") {
    if (!deps.bridge) throw new NetworkSetupError(bridgeUnavailableMessage(deps.bridgeUnavailable ?? "bridge mode is off"));
    let attachment;
    try {
      attachment = await deps.bridge.attach(
        launch.taskId,
        mappings.filter((m) => m.hostPort > 0),
      );
    } catch (err) {
      throw new NetworkSetupError(`bridge network setup failed: ${(err as Error).message}`);
    }
    return {
      mode: "bridge",
      ips: [attachment.ip],
      netns: attachment.netns,
      networkInfos: [{ ip_addresses: [ipInfo(attachment.ip)], port_mappings: portMappings }],
      endpoint: endpoint(attachment.ip),
      release: () => attachment.release(),
    };
  }

  const provider = deps.provider;
  if (!provider) throw new NetworkSetupError(NO_OVERLAY);
  const netns = `${deps.netnsPrefix}${createHash("sha1").update(launch.taskId).digest("hex").slice(0, 12)}`;
  try {
    await createNetns(netns);
  } catch (err) {
    throw new NetworkSetupError(`virtual networks need a network namespace of the task: ${(err as Error).message}`);
  }
  let attached: { ips: string[]; networkName: string };
  try {
    attached = await provider.attach(launch, netnsPath(netns));
  } catch (err) {
    await deleteNetns(netns).catch(() => undefined);
    throw new NetworkSetupError(`virtual network ${net.networkName}: attach failed: ${(err as Error).message}`);
  }
  const labels = Object.entries(net.labels).map(([key, value]) => ({ key, value }));
  return {
    mode: "container",
    ips: attached.ips,
    netns,
    networkInfos: [
      {
        ip_addresses: attached.ips.map(ipInfo),
        name: attached.networkName,
        ...(net.groups.length ? { groups: net.groups } : {}),
        ...(labels.length ? { labels: { labels } } : {}),
        port_mappings: portMappings,
      },
    ],
    endpoint: endpoint(attached.ips[0] ?? deps.agentIp),
    release: async () => {
      await provider.detach(launch).catch(() => undefined);
      await deleteNetns(netns);
    },
  };
}
