import * as fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { Logger } from "pino";
import { toServiceError } from "./status";

/** What a handler knows about its call. */
export interface CallContext {
  readonly metadata: grpc.Metadata;
  readonly peer: string;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
}

export type UnaryHandler<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res>;
/** A server-streaming handler sends with `send` and returns when the stream is complete. */
export type StreamHandler<Req, Res> = (req: Req, send: (res: Res) => void, ctx: CallContext) => Promise<void>;

/** The async shape of a ts-proto service definition: one function per method. */
export type AsyncService<D> = {
  [K in keyof D]: D[K] extends {
    requestDeserialize: (b: Buffer) => infer Req;
    responseSerialize: (r: infer Res) => Buffer;
    responseStream: infer RS;
  }
    ? RS extends true
      ? StreamHandler<Req, Res>
      : UnaryHandler<Req, Res>
    : never;
};

export interface GrpcServerOptions {
  logger: Logger;
  /** FileDescriptorSet for server reflection (`buf build -o`). */
  descriptorSetPath?: string;
}

export interface GrpcServer {
  readonly health: HealthImplementation;
  /** Registers a service; every handler's call is completed exactly once. */
  add<D extends grpc.ServiceDefinition>(name: string, definition: D, impl: AsyncService<D>): void;
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then cancels them. */
  stop(graceMs?: number): Promise<void>;
}

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  const server = new grpc.Server({ "grpc.keepalive_permit_without_calls": 1 });
  const health = new HealthImplementation({ "": "SERVING" });
  health.addToServer(server);
  if (opts.descriptorSetPath) {
    const pkg = {
      ...loadFileDescriptorSetFromBuffer(fs.readFileSync(opts.descriptorSetPath)),
      ...loadSync(healthProtoPath),
    };
    new ReflectionService(pkg).addToServer(server);
  }
  const log = opts.logger;
  // Calls in flight; stop() aborts them so open streams end instead of holding up the shutdown.
  const active = new Set<AbortController>();
  const track = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) => {
    const ac = new AbortController();
    active.add(ac);
    call.on("cancelled", () => ac.abort());
    const ctx: CallContext = { metadata: call.metadata, peer: call.getPeer(), signal: ac.signal };
    return { ctx, untrack: () => active.delete(ac) };
  };

  const unary = (method: string, fn: UnaryHandler<unknown, unknown>): grpc.handleUnaryCall<unknown, unknown> => {
    return (call, callback) => {
      let done = false;
      const { ctx, untrack } = track(call);
      const finish = (err: Partial<grpc.ServiceError> | null, res?: unknown): void => {
        untrack();
        if (done) return;
        done = true;
        callback(err, res);
      };
      fn(call.request, ctx).then(
        (res) => finish(null, res),
        (err: unknown) => {
          const se = toServiceError(err);
          if (se.code === grpc.status.INTERNAL || se.code === grpc.status.UNKNOWN) log.error({ err, method }, "grpc handler failed");
          finish(se);
        },
      );
    };
  };

  const stream = (method: string, fn: StreamHandler<unknown, unknown>): grpc.handleServerStreamingCall<unknown, unknown> => {
    return (call) => {
      let done = false;
      const { ctx, untrack } = track(call);
      const send = (res: unknown): void => {
        if (!done && !ctx.signal.aborted) call.write(res);
      };
      fn(call.request, send, ctx).then(
        () => {
          untrack();
          if (done) return;
          done = true;
          call.end();
        },
        (err: unknown) => {
          untrack();
          if (done) return;
          done = true;
          const se = toServiceError(err);
          if (se.code === grpc.status.INTERNAL || se.code === grpc.status.UNKNOWN) log.error({ err, method }, "grpc stream failed");
          call.emit("error", Object.assign(new Error(se.details), se));
        },
      );
    };
  };

  return {
    health,
    add(name, definition, impl) {
      const handlers: grpc.UntypedServiceImplementation = {};
      for (const [key, def] of Object.entries(definition)) {
        const fn = (impl as Record<string, unknown>)[key];
        if (typeof fn !== "function") throw new Error(`service ${name}: no handler for ${key}`);
        const bound = fn.bind(impl) as (...a: unknown[]) => Promise<unknown>;
        if (def.requestStream) throw new Error(`service ${name}: client streaming (${key}) is not supported`);
        handlers[key] = def.responseStream
          ? stream(def.path, bound as StreamHandler<unknown, unknown>)
          : unary(def.path, bound as UnaryHandler<unknown, unknown>);
      }
      server.addService(definition, handlers);
      health.setStatus(name, "SERVING");
    },
    listen: (host, port) =>
      new Promise((resolve, reject) =>
        server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
          err ? reject(err) : resolve(bound),
        ),
      ),
    stop: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        health.setStatus("", "NOT_SERVING");
        for (const ac of active) ac.abort();
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
