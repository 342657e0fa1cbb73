import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fromServiceError } from "./status";

/**
 * Client-side probes of the two standard services every dcnet server has:
 * grpc.health.v1 and server reflection (v1). Used by `dcnet health` and tests.
 */

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function clientFor(protoFile: string, service: string[], address: string): GenericClient {
  const def = grpc.loadPackageDefinition(loadSync(protoFile, { keepCase: true, defaults: true, enums: String }));
  let node: unknown = def;
  for (const part of service) node = (node as Record<string, unknown>)[part];
  const Ctor = node as grpc.ServiceClientConstructor;
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as GenericClient;
}

/** Returns the serving status of `service` ("" = the whole server), e.g. "SERVING". */
export function checkHealth(address: string, service = "", timeoutMs = 3000): Promise<string> {
  const protoFile = path.join(path.dirname(require.resolve("grpc-health-check/package.json")), "proto", "health", "v1", "health.proto");
  const client = clientFor(protoFile, ["grpc", "health", "v1", "Health"], address);
  return new Promise((resolve, reject) => {
    client["Check"]!({ service }, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: { status: string }) => {
      client.close();
      if (err) reject(fromServiceError(err));
      else resolve(res.status);
    });
  });
}

/** Lists the services a server exposes through reflection (grpc.reflection.v1). */
export function listServices(address: string, timeoutMs = 3000): Promise<string[]> {
  const protoFile = path.join(
    path.dirname(require.resolve("@grpc/reflection")),
    "..",
    "proto",
    "grpc",
    "reflection",
    "v1",
    "reflection.proto",
  );
  const client = clientFor(protoFile, ["grpc", "reflection", "v1", "ServerReflection"], address);
  return new Promise((resolve, reject) => {
    const call = client["ServerReflectionInfo"]!({ deadline: Date.now() + timeoutMs }) as grpc.ClientDuplexStream<
      unknown,
      { list_services_response?: { service: { name: string }[] } }
    >;
    call.on("data", (res) => {
      resolve((res.list_services_response?.service ?? []).map((s: { name: string }) => s.name).sort());
      call.end();
      client.close();
    });
    call.on("error", (err: grpc.ServiceError) => {
      client.close();
      reject(fromServiceError(err));
    });
    call.write({ list_services: "" });
  });
}
