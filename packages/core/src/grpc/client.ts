import * as grpc from "@grpc/grpc-js";
import { fromServiceError } from "./status";

export interface CallOptions {
  /** Deadline from now, in ms (default 5000). */
  timeoutMs?: number;
  metadata?: grpc.Metadata;
}

type UnaryFn<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

/**
 * Calls a unary method of a ts-proto client and returns a promise; a failed
 * call rejects with a DcnetError carrying the status code and offending field.
 * Usage: `await unary(client.getStatus.bind(client), {})`.
 */
export function unary<Req, Res>(fn: UnaryFn<Req, Res>, req: Req, opts: CallOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, opts.metadata ?? new grpc.Metadata(), { deadline: Date.now() + (opts.timeoutMs ?? 5000) }, (err, res) =>
      err ? reject(fromServiceError(err)) : resolve(res),
    );
  });
}

type StreamFn<Req, Res> = (req: Req, metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<Res>;

/** Reads a server stream as an async iterator; errors surface as DcnetError. */
export async function* serverStream<Req, Res>(
  fn: StreamFn<Req, Res>,
  req: Req,
  opts: { metadata?: grpc.Metadata; signal?: AbortSignal } = {},
): AsyncGenerator<Res> {
  const call = fn(req, opts.metadata ?? new grpc.Metadata(), {});
  const onAbort = (): void => call.cancel();
  opts.signal?.addEventListener("abort", onAbort);
  try {
    for await (const msg of call) yield msg as Res;
  } catch (err) {
    if ((err as grpc.ServiceError).code === grpc.status.CANCELLED && opts.signal?.aborted) return;
    throw fromServiceError(err as grpc.ServiceError);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    call.cancel();
  }
}

export const insecure = (): grpc.ChannelCredentials => grpc.credentials.createInsecure();
