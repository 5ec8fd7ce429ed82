// A lock on a file, exclusive across processes and containers sharing the cache's volume: flock(1)
// (util-linux, on every Debian) holds a kernel lock for as long as its child `cat` reads our pipe.
// The kernel drops it when that process ends, so a worker killed mid-fetch leaves no stale lock behind
// — which a lock file with a pid in it cannot promise across pid namespaces.
import { spawn } from "node:child_process";
import { CanceledError } from "../salesforce/context.ts";

export async function withFileLock<T>(file: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw new CanceledError();
  const holder = spawn("flock", ["--exclusive", file, "sh", "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  holder.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => holder.on("close", (code) => resolve(code)));
  const release = async () => {
    holder.stdin.end();
    await exited;
  };
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      holder.kill("SIGTERM");
      reject(new CanceledError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    holder.stdout.once("data", () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
    holder.on("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(new Error(`cannot run flock to lock ${file}: ${err.message}`));
    });
    void exited.then((code) => {
      signal.removeEventListener("abort", onAbort);
      reject(new Error(`flock exited ${code} before taking ${file}: ${stderr.trim()}`));
    });
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}
