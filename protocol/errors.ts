// The contract's error codes and the statuses they travel with (docs/API.md "Errors" says when each is
// sent). Everything that can fail on the wire fails with one of these, so clients can switch on `code`.
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  unauthenticated: 401,
  bad_signature: 401,
  stale_timestamp: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  stale_lease: 409,
  already_finished: 409,
  assignment_expired: 409,
  gone: 410,
  too_large: 413,
  range_not_satisfiable: 416,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  /** The deployment lacks a setting it cannot run without (a Worker secret); the message names it. */
  misconfigured: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

// The code each status stands for when an answer lacks the contract's error body.
const STATUS_CODE: Readonly<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  410: "gone",
  413: "too_large",
  415: "unsupported_media_type",
  416: "range_not_satisfiable",
  429: "rate_limited",
  502: "unavailable",
  503: "unavailable",
  504: "unavailable",
};

/**
 * The code an answer without the contract's error body stands for (a proxy's 502 page, a 413 from a
 * body limit in front of the edge), so that clients can always decide on the code.
 */
export function codeForStatus(status: number): ErrorCode {
  return STATUS_CODE[status] ?? (status >= 400 && status < 500 ? "invalid_request" : "internal");
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_STATUS, code);
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; field?: string };
}

/** Thrown anywhere on the edge or in an actor; the edge turns it into the contract's error answer. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly retryAfter?: number;
  constructor(code: ErrorCode, message: string, opts: { field?: string; retryAfter?: number } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.field = opts.field;
    this.retryAfter = opts.retryAfter;
  }
  get status(): ErrorStatus {
    return ERROR_STATUS[this.code];
  }
}

/**
 * Errors cross Durable Object RPC as plain Errors (only `message` survives), so actors throw
 * ApiErrors whose message carries the code; `fromRpcError` restores them on the edge.
 */
const RPC_MARK = "sfp-api-error:";

export function rpcError(code: ErrorCode, message: string): Error {
  return new Error(`${RPC_MARK}${JSON.stringify({ code, message })}`);
}

export function fromRpcError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : typeof err === "string" ? err : "";
  const at = message.indexOf(RPC_MARK);
  if (at < 0) return undefined;
  try {
    const parsed = JSON.parse(message.slice(at + RPC_MARK.length)) as { code: ErrorCode; message: string };
    if (parsed.code in ERROR_STATUS) return new ApiError(parsed.code, parsed.message);
  } catch {
    // not one of ours: fall through to the generic 500
  }
  return undefined;
}
