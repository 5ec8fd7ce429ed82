// query (REST or Tooling): the first page, then queryMore along nextRecordsUrl until done or until
// maxRecords, so a big result cannot swamp the task (the result says whether it was truncated).
import type { QueryPayload } from "../../protocol/payloads.ts";
import { CanceledError, type OperationContext, type OperationResult } from "./context.ts";

type QueryRecord = Record<string, unknown>;

export async function runQuery(ctx: OperationContext, payload: QueryPayload): Promise<OperationResult> {
  const api = payload.tooling ? ctx.conn.tooling : ctx.conn;
  let page = await api.query<QueryRecord>(payload.soql, { autoFetch: false });
  const records: QueryRecord[] = [...page.records];
  const totalSize = page.totalSize;
  let pages = 1;
  while (!page.done && page.nextRecordsUrl && records.length < payload.maxRecords) {
    if (ctx.signal.aborted) throw new CanceledError();
    ctx.progress({
      percent: Math.min(99, Math.round((records.length / Math.max(totalSize, 1)) * 100)),
      step: "queryMore",
      message: `${records.length}/${totalSize} records`,
    });
    page = await api.queryMore<QueryRecord>(page.nextRecordsUrl);
    records.push(...page.records);
    pages += 1;
  }
  const truncated = records.length > payload.maxRecords || (!page.done && records.length >= payload.maxRecords);
  const kept = records.slice(0, payload.maxRecords);
  ctx.log(`query returned ${kept.length} of ${totalSize} record(s) in ${pages} page(s)${truncated ? " (truncated at maxRecords)" : ""}`);
  ctx.progress({ percent: 100, step: "done", message: `${kept.length} records` });
  return { outcome: "succeeded", result: { totalSize, done: !truncated, truncated, pages, records: kept } };
}
