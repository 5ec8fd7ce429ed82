// The settings the edge cannot run without, checked on every request (a few string tests): a
// deployment missing a Worker secret answers 503 `misconfigured` naming it, instead of a 500 with a
// crypto error from deep inside a route (an HMAC key of length 0).
import type { Env } from "../actors/env.ts";

/** HMAC-SHA256 keys shorter than this are guessable; `openssl rand -hex 32` gives 64 characters. */
export const MIN_SECRET_LENGTH = 16;

const REQUIRED_SECRETS = ["TOKEN_SIGNING_KEY", "ADMIN_TOKEN"] as const;

/** What is wrong with the deployment's settings, one sentence each; empty when it can serve. */
export function configProblems(env: Partial<Pick<Env, (typeof REQUIRED_SECRETS)[number]>> | undefined): string[] {
  const problems: string[] = [];
  for (const name of REQUIRED_SECRETS) {
    const value = env?.[name];
    if (typeof value !== "string" || value === "") problems.push(`${name} is not set (wrangler secret put ${name})`);
    else if (value.length < MIN_SECRET_LENGTH) problems.push(`${name} is shorter than ${MIN_SECRET_LENGTH} characters`);
  }
  return problems;
}
