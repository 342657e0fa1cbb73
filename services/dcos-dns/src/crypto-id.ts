/**
 * The cluster crypto id (§3.8): names `*.<L>.<cryptoid>.dcos.directory` reach this cluster's
 * `<L>.thisdcos.directory` zones. DC/OS keeps an Ed25519 key pair in ZooKeeper and uses the
 * zbase32 of its public key (52 characters). We have no ZooKeeper; every node holds the cluster
 * key, so the pair is derived from it (seed = SHA-256("dcnet crypto id\0" ‖ cluster key)): every
 * node computes the same id without coordination, and a cluster with another key has another id.
 */
import * as crypto from "node:crypto";

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769";

export function cryptoIdFromClusterKey(clusterKey: string): string {
  const seed = crypto.createHash("sha256").update("dcnet crypto id\0").update(clusterKey).digest();
  const priv = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
  const spki = crypto.createPublicKey(priv).export({ format: "der", type: "spki" });
  return zbase32(spki.subarray(spki.length - 32));
}

export function zbase32(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ZBASE32[(acc << (5 - bits)) & 31];
  return out;
}
