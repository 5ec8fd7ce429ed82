// The org lock and approval settings (issue 13) as `org put` and `org register` take them: the edge's
// schema (protocol/project.ts PutOrgBody) has the last word on their bounds.
import { UsageError } from "../io.ts";

export const ORG_SETTING_FLAGS = {
  protected: { type: "string" },
  "max-concurrent-deploys": { type: "string" },
  "approval-timeout-seconds": { type: "string" },
} as const;

export const ORG_SETTINGS_USAGE = "[--protected true|false] [--max-concurrent-deploys <n>] [--approval-timeout-seconds <n>]";

/** The PUT body's settings fields from the command line's values. */
export function orgSettingsBody(
  values: { protected?: string; "max-concurrent-deploys"?: string; "approval-timeout-seconds"?: string },
  usage: string,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.protected !== undefined) {
    if (values.protected !== "true" && values.protected !== "false") throw new UsageError("--protected must be true or false", usage);
    body.protected = values.protected === "true";
  }
  for (const [flag, field] of [
    ["max-concurrent-deploys", "maxConcurrentDeploys"],
    ["approval-timeout-seconds", "approvalTimeoutSeconds"],
  ] as const) {
    const value = values[flag];
    if (value === undefined) continue;
    if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a whole number`, usage);
    body[field] = Number(value);
  }
  return body;
}
