/**
 * Reply size limits and truncation (spec §4 "Reply size / truncation").
 *
 * Upstream order: if the reply is larger than the limit, drop the whole additional section; if it
 * is still ≥ the limit, keep the largest answer prefix whose length is < the limit. TC is set when
 * anything was cut (or an upstream already set it) if SetTruncateBit, and always cleared otherwise.
 */
import { type Edns, type Layout, FLAG_TC, HEADER_LEN, skipName, walkMessage } from "./wire";

export const UDP_MIN = 512;
export const TCP_MAX = 65535;
/** Our advertised and preferred EDNS0 UDP payload size (DNS flag day 2020). */
export const DEFAULT_EDNS_UDP_SIZE = 1232;

export interface SizePolicy {
  /**
   * true (our default): honour the client's EDNS0 UDP size for authoritative replies (capped at
   * `ednsUdpSize`) and add an OPT record; relayed replies are cut to the client's size.
   * false: upstream behaviour — authoritative UDP replies are capped at 512 bytes and carry no OPT;
   * relayed replies use the UDP size of the OPT in the upstream's reply.
   */
  honourEdns: boolean;
  ednsUdpSize: number;
}

export type Transport = "udp" | "tcp";

/** The size limit for a reply we build ourselves. */
export function authoritativeLimit(transport: Transport, edns: Edns | null, policy: SizePolicy): number {
  if (transport === "tcp") return TCP_MAX;
  if (!policy.honourEdns || edns === null) return UDP_MIN;
  return Math.max(UDP_MIN, Math.min(edns.udpSize, policy.ednsUdpSize));
}

/** The size limit for a relayed (forwarded) reply. */
export function relayLimit(transport: Transport, clientEdns: Edns | null, reply: Buffer, layout: Layout, policy: SizePolicy): number {
  if (transport === "tcp") return TCP_MAX;
  if (policy.honourEdns) return clientEdns === null ? UDP_MIN : Math.max(UDP_MIN, clientEdns.udpSize);
  if (layout.optStart < 0) return UDP_MIN;
  const typeAt = skipName(reply, layout.optStart);
  return typeAt < 0 ? UDP_MIN : Math.max(UDP_MIN, reply.readUInt16BE(typeAt + 2));
}

export interface Fit {
  /** How many answer records to keep (a prefix). */
  answers: number;
  authority: boolean;
  additional: boolean;
  truncated: boolean;
}

/**
 * Decides what fits. `head` = header + question bytes; `anEnds[i]` = end of answer i relative to the
 * start of the answer section; `extra` = bytes that are always appended (our OPT record).
 */
export function fitSections(head: number, anEnds: ArrayLike<number>, authLen: number, addLen: number, extra: number, limit: number): Fit {
  const n = anEnds.length;
  const anLen = n > 0 ? anEnds[n - 1]! : 0;
  if (head + anLen + authLen + addLen + extra <= limit) return { answers: n, authority: true, additional: true, truncated: false };
  if (head + anLen + authLen + extra < limit) return { answers: n, authority: true, additional: false, truncated: true };
  const authority = head + authLen + extra < limit; // fix: upstream would send an oversized reply here
  const fixed = head + (authority ? authLen : 0) + extra;
  // Largest k with fixed + anEnds[k-1] < limit (binary search; anEnds is increasing).
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (fixed + anEnds[mid - 1]! < limit) lo = mid;
    else hi = mid - 1;
  }
  return { answers: lo, authority, additional: false, truncated: true };
}

/**
 * Size-checks a relayed reply and applies the TC policy. Returns the (possibly new) buffer and
 * whether we cut anything. When answers must be cut the authority section goes too (its names may
 * point into dropped answers); the OPT record is kept when `keepOpt`.
 */
export function truncateRelayed(
  reply: Buffer,
  layout: Layout,
  limit: number,
  setTruncateBit: boolean,
  keepOpt: boolean,
): { buf: Buffer; truncated: boolean } {
  if (reply.length <= limit) {
    const tc = (reply[2]! & 0x02) !== 0;
    if (tc && !setTruncateBit) {
      const out = Buffer.from(reply);
      out[2] = out[2]! & ~(FLAG_TC >> 8);
      return { buf: out, truncated: false };
    }
    return { buf: reply, truncated: false };
  }
  const opt = keepOpt && layout.optStart >= 0 ? reply.subarray(layout.optStart, layout.optEnd) : null;
  const optLen = opt ? opt.length : 0;
  const parts: Buffer[] = [];
  let an = layout.anEnds.length;
  let ns = reply.readUInt16BE(8);
  if (layout.nsEnd + optLen < limit) {
    parts.push(reply.subarray(0, layout.nsEnd));
  } else {
    ns = 0;
    let k = an;
    while (k > 0 && layout.anEnds[k - 1]! + optLen >= limit) k--;
    an = k;
    const end = k > 0 ? layout.anEnds[k - 1]! : layout.qEnd;
    parts.push(reply.subarray(0, Math.min(end, Math.max(HEADER_LEN, limit - optLen))));
  }
  if (opt) parts.push(opt);
  let out = finish(Buffer.concat(parts), an, ns, opt !== null, setTruncateBit);
  // A compression pointer may point forward (miekg reads those), into what was cut: the kept part
  // would no longer parse. Then only the question is kept, or, if even that does not parse on its
  // own (or does not fit), the header alone.
  if (walkMessage(out) === null) {
    out = finish(Buffer.concat([reply.subarray(0, layout.qEnd), opt ?? Buffer.alloc(0)]), 0, 0, opt !== null, setTruncateBit);
    if (out.length > limit || walkMessage(out) === null) {
      out = finish(Buffer.concat([reply.subarray(0, HEADER_LEN), opt ?? Buffer.alloc(0)]), 0, 0, opt !== null, setTruncateBit);
      out.writeUInt16BE(0, 4);
      if (walkMessage(out) === null) out = finish(Buffer.from(out.subarray(0, HEADER_LEN)), 0, 0, false, setTruncateBit);
    }
  }
  return { buf: out, truncated: true };
}

/** Sets the section counts and the TC bit of a cut reply. */
function finish(out: Buffer, an: number, ns: number, hasOpt: boolean, setTruncateBit: boolean): Buffer {
  out.writeUInt16BE(an, 6);
  out.writeUInt16BE(ns, 8);
  out.writeUInt16BE(hasOpt ? 1 : 0, 10);
  if (setTruncateBit) out[2] = out[2]! | (FLAG_TC >> 8);
  else out[2] = out[2]! & ~(FLAG_TC >> 8);
  return out;
}
