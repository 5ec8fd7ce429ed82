// org-check: who the credentials act as (identity), which API versions the org speaks, and its limits.
import type { OrgCheckPayload } from "../../protocol/payloads.ts";
import type { OperationContext, OperationResult } from "./context.ts";

export async function runOrgCheck(ctx: OperationContext, payload: OrgCheckPayload): Promise<OperationResult> {
  const id = await ctx.conn.identity();
  ctx.progress({ percent: 33, step: "identity" });
  const versions = await ctx.conn.request<Array<{ version: string }>>(`${ctx.conn.instanceUrl}/services/data`);
  ctx.progress({ percent: 66, step: "versions" });
  const all = await ctx.conn.limits();
  const wanted = payload.limits ? new Set(payload.limits) : null;
  const limits = Object.fromEntries(
    Object.entries(all)
      .filter(([name]) => !wanted || wanted.has(name))
      .map(([name, l]) => [name, { max: l.Max, remaining: l.Remaining }]),
  );
  ctx.progress({ percent: 100, step: "limits" });
  const api = limits.DailyApiRequests;
  ctx.log(`org ${id.organization_id} as ${id.username}${api ? `: ${api.remaining}/${api.max} API requests left today` : ""}`);
  return {
    outcome: "succeeded",
    result: {
      organizationId: id.organization_id,
      userId: id.user_id,
      username: id.username,
      displayName: id.display_name,
      instanceUrl: ctx.conn.instanceUrl,
      apiVersion: ctx.conn.version,
      latestApiVersion: versions
        .map((v) => v.version)
        .sort((a, b) => Number(a) - Number(b))
        .at(-1),
      limits,
    },
  };
}
