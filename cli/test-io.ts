// An in-memory Io for the CLI's unit tests: captures what a command writes.
import type { Io } from "./io.ts";

export function memoryIo(env: NodeJS.ProcessEnv = {}, opts: { tty?: boolean; stdin?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    stdout: { write: (s: string) => out.push(s), isTTY: opts.tty, columns: 100 },
    stderr: { write: (s: string) => err.push(s) },
    env,
    readStdin: async () => opts.stdin ?? "",
  };
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}
