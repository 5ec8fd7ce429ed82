// Turns whatever jsforce throws into the job's error code and message.
import { SessionError } from "./connect.ts";
import { SourceError } from "../source/errors.ts";
import { OperationError } from "./context.ts";

/** jsforce's session delegate rewraps refresh failures with this prefix, dropping the class. */
const REFRESH_FAILED = "Unable to refresh session due to: ";

export function toOperationError(err: unknown, fallback: "salesforce_error" | "internal" = "salesforce_error"): OperationError {
  if (err instanceof OperationError) return err;
  if (err instanceof SessionError) return new OperationError(err.code, err.message);
  if (err instanceof SourceError) return new OperationError(err.code, err.message);
  if (!(err instanceof Error)) return new OperationError(fallback, String(err));
  if (err.message.startsWith(REFRESH_FAILED)) {
    const cause = err.message.slice(REFRESH_FAILED.length);
    return /expired access\/refresh token|invalid_grant/i.test(cause)
      ? new OperationError("auth_failed", `the session expired and the refresh token was refused: ${cause}`)
      : new OperationError("session_expired", cause);
  }
  // jsforce names its errors after Salesforce's error code (INVALID_TYPE, sf:INVALID_ID_FIELD…).
  const code = err.name && err.name !== "Error" ? `${err.name}: ` : "";
  const message = err.message.startsWith(code.replace(/^sf:/, "")) ? err.message : `${code}${err.message}`;
  return new OperationError(fallback, message);
}
