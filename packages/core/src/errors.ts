import { status } from "@grpc/grpc-js";

/** Error codes, the same numbers as gRPC status codes so they map one to one. */
export const Code = {
  CANCELLED: status.CANCELLED,
  UNKNOWN: status.UNKNOWN,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ABORTED: status.ABORTED,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
  UNAVAILABLE: status.UNAVAILABLE,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

/**
 * The one error type of dcnet. `field` names the offending input (a config key,
 * a request field) whenever the error is about input.
 */
export class DcnetError extends Error {
  readonly code: Code;
  readonly field: string | undefined;

  constructor(code: Code, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(options.field !== undefined ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.name = "DcnetError";
    this.code = code;
    this.field = options.field;
  }

  /** Wraps anything caught into a DcnetError (UNKNOWN unless it already is one). */
  static from(err: unknown): DcnetError {
    if (err instanceof DcnetError) return err;
    if (err instanceof Error) return new DcnetError(Code.UNKNOWN, err.message, { cause: err });
    return new DcnetError(Code.UNKNOWN, String(err));
  }
}

export function invalidArgument(field: string, message: string): DcnetError {
  return new DcnetError(Code.INVALID_ARGUMENT, message, { field });
}

export function notFound(message: string, field?: string): DcnetError {
  return new DcnetError(Code.NOT_FOUND, message, field !== undefined ? { field } : {});
}

/** Raised by key-value compare-and-set when the expected revision is not the current one. */
export class ConflictError extends DcnetError {
  constructor(key: string, expected: number, cause?: unknown) {
    super(Code.FAILED_PRECONDITION, `revision conflict on key "${key}" (expected revision ${expected})`, {
      field: "revision",
      cause,
    });
    this.name = "ConflictError";
  }
}
