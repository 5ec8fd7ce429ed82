#!/usr/bin/env node
// Entry of the `sfp-edge` command (package.json "bin"); Node ≥ 22.18 runs the TypeScript directly.
import { run } from "./main.ts";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  readStdin,
});
// A WebSocket still in its closing handshake must not hold a finished command open.
setTimeout(() => process.exit(), 100).unref();
