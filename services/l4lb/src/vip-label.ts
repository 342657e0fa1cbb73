/**
 * The VIP label grammar (spec dcos-net.md §4.1). A label value is `<ip>:<port>` (an IP VIP) or
 * `<name>:<port>` / `/<name>:<port>` (a named VIP). The value is split at its LAST colon, so a
 * bare IPv6 address works (`fd00::1:80` is `fd00::1` port 80). Beyond upstream, `[<ipv6>]:<port>`
 * is read as an IPv6 IP VIP (upstream would make it a name `[fd00::1]`), and a name containing
 * `:`, `[` or `]` is refused: it can only be a mistyped address.
 *
 * Legacy task labels `VIP_PORT<n>=tcp://<vip>:<port>` reach this parser with the scheme already
 * removed (the protocol set on the port by @dcnet/mesos); a scheme that is still there is refused.
 */
import { canonicalIp, familyOf, type Family } from "./ip";

export type VipTarget = { kind: "ip"; ip: string; family: Family; port: number } | { kind: "name"; name: string; port: number };

export type VipLabelResult = { ok: true; vip: VipTarget } | { ok: false; reason: string };

/** Only digits and dots: meant as IPv4 (so `10.0.0.256` is an error, not a name). */
const LOOKS_V4 = /^[0-9.]+$/;

/**
 * Parses one label (`key` is used only in messages). Never throws; the reason names the label,
 * its value and what is wrong, e.g. `VIP_0 value "foo" has no port`.
 */
export function parseVipLabel(label: { key: string; value: string }): VipLabelResult {
  const what = `${label.key} value ${JSON.stringify(label.value)}`;
  const fail = (why: string): VipLabelResult => ({ ok: false, reason: `${what} ${why}` });
  const value = label.value.trim();
  if (value === "") return fail("is empty");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return fail("has a scheme (only the legacy VIP_PORT<n> labels take tcp:// or udp://)");
  const colon = value.lastIndexOf(":");
  if (colon < 0) return fail("has no port");
  const host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (portText === "") return fail("has no port");
  if (!/^[0-9]+$/.test(portText)) return fail(`has port ${JSON.stringify(portText)}, not a number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return fail(`has port ${port} out of range 1–65535`);
  if (host === "") return fail("has no address or name before the port");

  const bracketed = /^\[(.*)\]$/.exec(host);
  if (bracketed) {
    const ip = canonicalIp(bracketed[1]!);
    if (ip === undefined || familyOf(ip) !== 6) return fail(`has ${JSON.stringify(host)}, not an IPv6 address in brackets`);
    return { ok: true, vip: { kind: "ip", ip, family: 6, port } };
  }
  const ip = canonicalIp(host);
  if (ip !== undefined) return { ok: true, vip: { kind: "ip", ip, family: familyOf(ip)!, port } };
  if (LOOKS_V4.test(host)) return fail(`has ${JSON.stringify(host)}, not an IPv4 address`);
  if (/[:[\]]/.test(host))
    return fail(`has ${JSON.stringify(host)}, neither an IP address nor a name (a name cannot contain ":", "[" or "]")`);
  const name = host.startsWith("/") ? host.slice(1) : host;
  if (name === "") return fail("has an empty name");
  return { ok: true, vip: { kind: "name", name, port } };
}
