import * as fs from "node:fs";
import type * as https from "node:https";
import { invalidArgument } from "@dcnet/core";
import type { MesosDnsConfig } from "../model";
import { iamToken, readIamConfig, type IamConfig } from "./iam";
import type { MasterTransport } from "./master-http";

function readFileFor(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw invalidArgument(key, `cannot read "${file}": ${(err as Error).message}`);
  }
}

/** The transport `cfg` asks for; reads the certificate, key and IAM files now (an unreadable one is an error naming its key). */
export function masterTransport(cfg: MesosDnsConfig): MasterTransport {
  const tls: https.RequestOptions = { rejectUnauthorized: cfg.caCertFile !== "" };
  if (cfg.caCertFile !== "") tls.ca = readFileFor("caCertFile", cfg.caCertFile);
  if (cfg.certFile !== "") tls.cert = readFileFor("certFile", cfg.certFile);
  if (cfg.keyFile !== "") tls.key = readFileFor("keyFile", cfg.keyFile);
  let authorization: MasterTransport["authorization"] = async () => undefined;
  if (cfg.mesosAuthentication === "basic") {
    const { principal, secret } = cfg.mesosCredentials;
    const value = `Basic ${Buffer.from(`${principal}:${secret}`).toString("base64")}`;
    authorization = async () => value;
  } else if (cfg.mesosAuthentication === "iam") {
    const iam: IamConfig = readIamConfig(cfg.iamConfigFile);
    authorization = async (signal) => `token=${await iamToken(iam, tls, signal)}`;
  }
  return { scheme: cfg.mesosHTTPSOn ? "https" : "http", tls, authorization };
}
