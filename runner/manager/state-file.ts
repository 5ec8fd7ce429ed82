// The runner's registration kept on disk (mode 0600) so that a restarted manager reuses its runner
// token instead of spending another registration token. Nothing else is ever written to disk.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "@hono/zod-openapi";
import { RunnerSettings } from "../../protocol/runner.ts";

export const StoredRunner = z.object({
  edgeUrl: z.string(),
  runnerId: z.string(),
  runnerToken: z.string(),
  project: z.string(),
  pool: z.string(),
  settings: RunnerSettings,
});
export type StoredRunner = z.infer<typeof StoredRunner>;

/** The stored registration for `edgeUrl`, or undefined when there is none (or it names another edge). */
export function loadRunner(file: string, edgeUrl: string): StoredRunner | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = StoredRunner.safeParse(json);
  return parsed.success && parsed.data.edgeUrl === edgeUrl ? parsed.data : undefined;
}

export function saveRunner(file: string, runner: StoredRunner): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(runner, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // the umask may have widened nothing, but an existing tmp keeps its old mode
  renameSync(tmp, file);
}

export function removeRunner(file: string): void {
  rmSync(file, { force: true });
}
