// The task-template flags `task create` and `schedule put` share (payload, priority, pool, labels,
// timeout, attempts): one parse spec and one builder, so the two commands cannot drift apart.
import { readFile } from "node:fs/promises";
import { CliError, type Io, UsageError } from "../io.ts";

/** The parse options of the shared flags, spread into each command's own. */
export const TEMPLATE_OPTIONS = {
  "payload-file": { type: "string" },
  priority: { type: "string" },
  pool: { type: "string" },
  label: { type: "string", multiple: true },
  "timeout-seconds": { type: "string" },
  "max-attempts": { type: "string" },
} as const;

type TemplateValues = {
  "payload-file"?: string;
  priority?: string;
  pool?: string;
  label?: string[];
  "timeout-seconds"?: string;
  "max-attempts"?: string;
};

/** The template fields the flags set, added to `into` (absent flags add nothing); the schema checks them later. */
export async function templateFields(into: Record<string, unknown>, values: TemplateValues, io: Io, usage: string): Promise<Record<string, unknown>> {
  if (values["payload-file"] !== undefined) into.payload = await readPayload(values["payload-file"], io);
  if (values.priority !== undefined) into.priority = values.priority;
  if (values.pool !== undefined) into.pool = values.pool;
  if (values.label?.length) into.labels = values.label;
  if (values["timeout-seconds"] !== undefined) into.timeoutSeconds = integer(values["timeout-seconds"], "--timeout-seconds", usage);
  if (values["max-attempts"] !== undefined) into.maxAttempts = integer(values["max-attempts"], "--max-attempts", usage);
  return into;
}

export async function readPayload(file: string, io: Io): Promise<unknown> {
  let text: string;
  try {
    text = file === "-" ? await io.readStdin() : await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read the payload file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`the payload file ${file} is not valid JSON`);
  }
}

export function integer(value: string, flag: string, usage: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number`, usage);
  return Number(value);
}
