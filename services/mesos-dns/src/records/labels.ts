/**
 * Label sanitisation ("spec", §3.1): upstream records/labels/labels.go.
 *
 * 1. map each code point: A–Z → a–z; a–z, 0–9 kept; `-`, `.`, `_` → `-`; everything else deleted;
 * 2. trim from the left (RFC1123: `-`; RFC952: `-` and digits);
 * 3. cut at the maximum length (63 / 24) and trim trailing `-` from the cut part; if that removed
 *    something, refill from the remainder (leading `-` stripped) with as many characters as were
 *    trimmed — the refill is not re-trimmed and may end in `-`.
 */

/** A label function: any string → a DNS label (possibly empty), pure ASCII `[a-z0-9-]`. */
export type LabelSpec = (name: string) => string;

function mapChars(name: string): string {
  let out = "";
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (ch.length !== 1) continue; // astral code point: deleted
    if (c >= 65 && c <= 90) out += String.fromCharCode(c + 32);
    else if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) out += ch;
    else if (ch === "-" || ch === "." || ch === "_") out += "-";
  }
  return out;
}

function trimLeft(s: string, cut: (c: string) => boolean): string {
  let i = 0;
  while (i < s.length && cut(s[i]!)) i++;
  return s.slice(i);
}

function trimRightDashes(s: string): string {
  let j = s.length;
  while (j > 0 && s[j - 1] === "-") j--;
  return s.slice(0, j);
}

function trimCut(label: string, maxLen: number, leftCut: (c: string) => boolean): string {
  const trim = trimLeft(label, leftCut);
  const size = Math.min(trim.length, maxLen);
  const head = trimRightDashes(trim.slice(0, size));
  if (head.length === size) return head;
  const tail = trimLeft(trim.slice(size), (c) => c === "-");
  return head + tail.slice(0, size - head.length);
}

const isDash = (c: string): boolean => c === "-";
const isDashOrDigit = (c: string): boolean => c === "-" || (c >= "0" && c <= "9");

/** RFC 1123 host label: at most 63 characters, no leading `-`. The default. */
export const rfc1123: LabelSpec = (name) => trimCut(mapChars(name), 63, isDash);

/** RFC 952 host label (`EnforceRFC952`): at most 24 characters, no leading `-` or digit. */
export const rfc952: LabelSpec = (name) => trimCut(mapChars(name), 24, isDashOrDigit);

/** The label spec selected by the configuration flag. */
export function labelSpec(enforceRFC952: boolean): LabelSpec {
  return enforceRFC952 ? rfc952 : rfc1123;
}

/**
 * A domain fragment: split on `.`, sanitise each part, drop empty parts, join with `.`.
 * Used for framework names (dots stay sub-domains) and agent hosts.
 */
export function domainFrag(name: string, spec: LabelSpec): string {
  const out: string[] = [];
  for (const part of name.split(".")) {
    const l = spec(part);
    if (l !== "") out.push(l);
  }
  return out.join(".");
}
