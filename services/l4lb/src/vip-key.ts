/**
 * A VIP's identity (spec §4.1): `{protocol, vip, port}` where `vip` is an IP address or a name
 * qualified by the framework of the tasks that carry it (the same name in two frameworks gives
 * two VIPs), and its stable string id:
 *
 * - `tcp/ip:172.16.0.1/80`, `udp/ip:fd00::1/53` (canonical address text);
 * - `tcp/name:minitwit.marathon/80` — `<name>.<framework>` with each part percent-encoded
 *   (`encodeURIComponent`, plus `.` as `%2E`), so the one bare `.` separates them:
 *   `/mygroup/myapp` in `marathon` is `tcp/name:mygroup%2Fmyapp.marathon/80`.
 *
 * The leading `/` of a named label is not part of the name (`/minitwit:80` and `minitwit:80` are
 * one VIP).
 */
import { domainFrag } from "@dcnet/mesos";
import { canonicalIp } from "./ip";

export type Protocol = "tcp" | "udp";

export type VipAddress = { kind: "ip"; ip: string } | { kind: "name"; name: string; framework: string };

export interface VipKey {
  protocol: Protocol;
  vip: VipAddress;
  port: number;
}

const enc = (s: string): string => encodeURIComponent(s).replace(/\./g, "%2E");

export function vipKeyId(key: VipKey): string {
  const vip = key.vip.kind === "ip" ? `ip:${key.vip.ip}` : `name:${enc(key.vip.name)}.${enc(key.vip.framework)}`;
  return `${key.protocol}/${vip}/${key.port}`;
}

const ID = /^(tcp|udp)\/(ip|name):(.+)\/([0-9]{1,5})$/;

/** The key of an id made by {@link vipKeyId}; undefined when `id` is not one. */
export function parseVipKeyId(id: string): VipKey | undefined {
  const m = ID.exec(id);
  if (!m) return undefined;
  const port = Number(m[4]);
  if (port < 1 || port > 65535) return undefined;
  const protocol = m[1] as Protocol;
  if (m[2] === "ip") {
    const ip = canonicalIp(m[3]!);
    return ip !== undefined && ip === m[3] ? { protocol, vip: { kind: "ip", ip }, port } : undefined;
  }
  const parts = m[3]!.split(".");
  if (parts.length !== 2) return undefined;
  try {
    return { protocol, vip: { kind: "name", name: decodeURIComponent(parts[0]!), framework: decodeURIComponent(parts[1]!) }, port };
  } catch {
    return undefined;
  }
}

/**
 * The name a named VIP is allocated an address under and published as in DNS
 * (`<this>.l4lb.thisdcos.directory`): MSTATE `domain_frag` of `<name>.<framework>` (spec §4.4),
 * e.g. `/mygroup/myapp` + `marathon` → `mygroupmyapp.marathon`.
 */
export function vipDnsName(vip: { name: string; framework: string }): string {
  return domainFrag(`${vip.name}.${vip.framework}`);
}
