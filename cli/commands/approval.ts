// `sfp-edge task approve|reject <id>`: an owner or approver decides on a task to a protected org.
import type { Task } from "../../protocol/index.ts";
import { connect } from "../connect.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";

export const APPROVAL_USAGE = {
  approve: "sfp-edge task approve <id>",
  reject: "sfp-edge task reject <id>",
} as const;

async function decide(io: Io, globals: Globals, argv: string[], decision: "approve" | "reject"): Promise<number> {
  const usage = APPROVAL_USAGE[decision];
  const { positionals } = parse(argv, {}, usage);
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError("expected one task id", usage);
  const id = positionals[0];
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ task: Task }>("POST", `/v1/tasks/${encodeURIComponent(id)}/${decision}`);
  if (globals.json) printJson(io, body);
  else if (decision === "approve") line(io, `approved ${id}: ${body.task.status}, waiting for org ${body.task.org}'s lock`);
  else line(io, `rejected ${id}: ${body.task.status}`);
  return EXIT.ok;
}

export function taskApprove(io: Io, globals: Globals, argv: string[]): Promise<number> {
  return decide(io, globals, argv, "approve");
}

export function taskReject(io: Io, globals: Globals, argv: string[]): Promise<number> {
  return decide(io, globals, argv, "reject");
}
