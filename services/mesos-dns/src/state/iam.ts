import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type * as https from "node:https";
import { invalidArgument } from "@dcnet/core";
import { masterRequest, readBody } from "./master-http";

/**
 * `mesosAuthentication: "iam"` (spec §2, upstream httpcli/iam/iam.go@e888ef4): for every request to
 * a master, an RS256 JWT `{uid, exp: now + 1 h}` signed with the service account's private key is
 * POSTed as `{"uid","token"}` to the login endpoint, which must answer 200 with `{"token"}`; the
 * request then carries `Authorization: token=<token>`. The account is the JSON file
 * `IAMConfigFile`: `{"uid","private_key","login_endpoint"}`.
 */
export interface IamConfig {
  readonly uid: string;
  readonly privateKey: crypto.KeyObject;
  readonly loginEndpoint: URL;
}

/** Reads and checks `IAMConfigFile`; every problem is an error naming the key and the field. */
export function readIamConfig(file: string): IamConfig {
  const bad = (message: string): Error => invalidArgument("IAMConfigFile", `"${file}": ${message}`);
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw bad(`cannot read it as JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad(`must be a JSON object`);
  const field = (name: string): string => {
    const v = (doc as Record<string, unknown>)[name];
    if (typeof v !== "string" || v === "") throw bad(`"${name}" must be a non-empty string`);
    return v;
  };
  const uid = field("uid");
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(field("private_key"));
  } catch (err) {
    throw bad(`"private_key" is not a PEM private key: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== "rsa") throw bad(`"private_key" must be an RSA key (RS256), got ${privateKey.asymmetricKeyType}`);
  const endpoint = field("login_endpoint");
  let loginEndpoint: URL;
  try {
    loginEndpoint = new URL(endpoint);
  } catch {
    throw bad(`"login_endpoint" is not a URL`);
  }
  if (loginEndpoint.protocol !== "http:" && loginEndpoint.protocol !== "https:") throw bad(`"login_endpoint" must be an http or https URL`);
  return { uid, privateKey, loginEndpoint };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** The login JWT: header `{"alg":"RS256","typ":"JWT"}`, claims `{"exp","uid"}` (Go marshals map keys sorted). */
export function loginJwt(uid: string, key: crypto.KeyObject, nowMs = Date.now()): string {
  const input = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(JSON.stringify({ exp: Math.floor(nowMs / 1000) + 3600, uid }))}`;
  return `${input}.${b64url(crypto.sign("sha256", Buffer.from(input), key))}`;
}

/** Logs in at the endpoint (with the masters' TLS options when it is https) and returns the token. */
export async function iamToken(cfg: IamConfig, tls: Readonly<https.RequestOptions>, signal?: AbortSignal): Promise<string> {
  const where = `IAM login ${cfg.loginEndpoint.href}`;
  const body = JSON.stringify({ uid: cfg.uid, token: loginJwt(cfg.uid, cfg.privateKey) });
  let res;
  try {
    res = await masterRequest({ tls }, cfg.loginEndpoint, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
      body,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  const text = await readBody(res);
  if (res.statusCode !== 200) throw new Error(`${where}: HTTP ${res.statusCode} (200 required)`);
  let token: unknown;
  try {
    token = (JSON.parse(text) as { token?: unknown } | null)?.token;
  } catch {
    throw new Error(`${where}: the answer is not JSON`);
  }
  if (typeof token !== "string" || token === "") throw new Error(`${where}: the answer has no "token"`);
  return token;
}
