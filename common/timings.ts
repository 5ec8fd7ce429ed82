import { MAX_RUNNER_POLL_SECONDS } from "../protocol/limits.ts";

// The protocol's timing settings, read from Worker vars so tests and operators can change them.
/** The Worker vars that set timings (wrangler.toml [vars]); any object with these fields will do. */
export interface TimingVars {
  LEASE_SECONDS?: string;
  ACCEPT_SECONDS?: string;
  POLL_WAIT_SECONDS?: string;
  QUEUE_TTL_SECONDS?: string;
}

export function timings(env: TimingVars) {
  const num = (v: string | undefined, d: number) => {
    const n = Number(v);
    return Number.isFinite(n) && n > 0 ? n : d;
  };
  return {
    leaseSeconds: num(env.LEASE_SECONDS, 60),
    acceptSeconds: num(env.ACCEPT_SECONDS, 15),
    pollWaitSeconds: num(env.POLL_WAIT_SECONDS, MAX_RUNNER_POLL_SECONDS),
    queueTtlSeconds: num(env.QUEUE_TTL_SECONDS, 3600),
  };
}
