import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { Code, DcnetError } from "../errors";

/** Trailer that carries the name of the offending field, when there is one. */
export const FIELD_TRAILER = "dcnet-field";

/** Maps any error to the gRPC status a client sees. Unknown errors become INTERNAL. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = err instanceof DcnetError ? err : new DcnetError(Code.INTERNAL, err instanceof Error ? err.message : String(err));
  const metadata = new Metadata();
  if (e.field !== undefined) metadata.set(FIELD_TRAILER, e.field);
  return { code: e.code, details: e.message, metadata };
}

/** Maps a gRPC status back to a DcnetError (the one boundary on the client side). */
export function fromServiceError(err: ServiceError): DcnetError {
  const field = err.metadata?.get(FIELD_TRAILER)[0];
  const fieldName = typeof field === "string" ? field : undefined;
  let message = err.details || err.message;
  if (fieldName !== undefined && message.startsWith(`${fieldName}: `)) message = message.slice(fieldName.length + 2);
  const code = (Object.values(Code) as number[]).includes(err.code) ? (err.code as Code) : Code.UNKNOWN;
  return new DcnetError(code, message, { ...(fieldName !== undefined ? { field: fieldName } : {}), cause: err });
}

export { status };
