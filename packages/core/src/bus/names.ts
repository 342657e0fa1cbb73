import { invalidArgument } from "../errors";

const CLUSTER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;
const KEY = /^[-/_=.a-zA-Z0-9]+$/;
const BUCKET = /^[A-Za-z0-9_-]+$/;

export function checkClusterId(id: string, field = "cluster.id"): string {
  if (!CLUSTER_ID.test(id)) throw invalidArgument(field, `"${id}" is not a cluster id (lower-case letters, digits, dashes; at most 63)`);
  return id;
}

/** A subject to publish on: dot-separated tokens, no wildcards. */
export function checkSubject(subject: string, field = "subject"): string {
  if (!subject.split(".").every((t) => TOKEN.test(t))) throw invalidArgument(field, `"${subject}" is not a valid subject`);
  return subject;
}

/** A subject filter: tokens, `*` for one token, `>` as the last token. */
export function checkFilter(filter: string, field = "subject"): string {
  const toks = filter.split(".");
  const ok = toks.every((t, i) => TOKEN.test(t) || t === "*" || (t === ">" && i === toks.length - 1));
  if (!ok) throw invalidArgument(field, `"${filter}" is not a valid subject filter`);
  return filter;
}

export function checkKey(key: string, field = "key"): string {
  if (!KEY.test(key) || key.startsWith(".") || key.endsWith(".")) throw invalidArgument(field, `"${key}" is not a valid key`);
  return key;
}

export function checkBucket(bucket: string, field = "bucket"): string {
  if (!BUCKET.test(bucket)) throw invalidArgument(field, `"${bucket}" is not a valid bucket name`);
  return bucket;
}

/** Where a cluster's subjects and buckets live on a shared server. */
export const namespace = {
  subject: (clusterId: string, subject: string): string => `dcnet.${clusterId}.${subject}`,
  bucket: (clusterId: string, bucket: string): string => `dcnet_${clusterId}_${bucket}`,
};
