// `sfp-edge runner list|drain|revoke` (owner): the project's runners across pools with their load,
// asking one to drain (it takes no more work and finishes what it runs), and revoking one (its next
// call is refused and its leases go back to the queue).
import type { RunnerInfo } from "../../protocol/index.ts";
import { connect, projectPath } from "../connect.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";

export const RUNNER_USAGE = {
  list: "sfp-edge runner list",
  drain: "sfp-edge runner drain <runner id>",
  revoke: "sfp-edge runner revoke <runner id>",
} as const;

export async function runnerList(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, RUNNER_USAGE.list);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, RUNNER_USAGE.list);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ runners: RunnerInfo[] }>("GET", projectPath(s, "/runners"));
  if (globals.json) {
    printJson(io, body);
    return EXIT.ok;
  }
  if (!body.runners.length) {
    line(io, "no runners registered");
    return EXIT.ok;
  }
  const rows = body.runners.map((r) => [
    r.id,
    r.name,
    r.pool,
    r.state,
    `${r.slots - r.freeSlots}/${r.slots}`,
    r.resources ? `${r.resources.cpuPercent.toFixed(1)}%` : "-",
    r.resources ? mib(r.resources.memoryRssBytes) : "-",
    r.lastSeenAt,
  ]);
  for (const row of columns([["ID", "NAME", "POOL", "STATE", "BUSY", "CPU", "RSS", "LAST SEEN"], ...rows])) line(io, row);
  return EXIT.ok;
}

export async function runnerDrain(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const id = oneRunner(argv, RUNNER_USAGE.drain);
  const s = await connect(io, globals);
  await s.client.request("POST", projectPath(s, `/runners/${encodeURIComponent(id)}/drain`));
  if (globals.json) printJson(io, { id, drain: true });
  else line(io, `asked runner ${id} to drain: it takes no more work and stops once its jobs finish`);
  return EXIT.ok;
}

export async function runnerRevoke(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const id = oneRunner(argv, RUNNER_USAGE.revoke);
  const s = await connect(io, globals);
  await s.client.request("DELETE", projectPath(s, `/runners/${encodeURIComponent(id)}`));
  if (globals.json) printJson(io, { id, revoked: true });
  else line(io, `revoked runner ${id}: its next call is refused and its leases go back to the queue`);
  return EXIT.ok;
}

function oneRunner(argv: string[], usage: string): string {
  const { positionals } = parse(argv, {}, usage);
  if (positionals.length !== 1) throw new UsageError("expected exactly one runner id", usage);
  return positionals[0];
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

/** Left-aligned columns, two spaces apart. */
export function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  "));
}
