import { createHash } from "node:crypto";

/** z-base-32 alphabet (Zooko's human-oriented base-32; github.com/tv42/zbase32). */
export const ZBASE32_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769";

/** z-base-32 encoding of whole bytes, most significant bit first, no padding (tv42/zbase32 EncodeToString). */
export function zbase32(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ZBASE32_ALPHABET[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += ZBASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * The 5-character task hash of canonical names (§3.5): the first 5 characters of the
 * z-base-32 encoding of SHA-1(UTF-8 of `s`). `hashString("test") === "iffe9"`.
 */
export function hashString(s: string): string {
  return zbase32(createHash("sha1").update(s, "utf8").digest()).slice(0, 5);
}
