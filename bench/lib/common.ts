// What every scenario shares: a project to work in, API calls, the peer's payloads, result rows.
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN, REPO } from "./edge.ts";
import type { WrkRun } from "./wrk.ts";

export interface Row {
  id: string;
  name: string;
  runs?: WrkRun[];
  /** Latency figures (ms) per run, when wrk is not the driver. */
  latency?: { p50: number; p99: number; n: number }[];
  /** Server CPU per operation (µs) per run, when wrk is not the driver. */
  cpuUs?: number[];
  doPerOp?: number;
  check?: string;
  note?: string;
}

// Beside the clone (`../shared`), or beside the folder of worktrees a clone's branches are checked out in.
const PEER_CANDIDATES = [join(REPO, "..", "shared", "peers", "bullmq"), join(REPO, "..", "..", "shared", "peers", "bullmq")];
export const PEER_DIR = process.env.SFP_PEER_DIR ?? PEER_CANDIDATES.find((dir) => existsSync(dir)) ?? PEER_CANDIDATES[0];

export async function apiCall<T = any>(url: string, method: string, path: string, token: string, body?: unknown): Promise<T> {
  const send = () =>
    fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // A pooled connection the server already closed fails at once; a read is safe to send again.
  const res = await send().catch((err) => (method === "GET" ? send() : Promise.reject(err)));
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A fresh project with a registered `demo` org. */
export async function settle(url: string): Promise<{ project: string; owner: string }> {
  const made = await apiCall(url, "POST", "/v1/projects", ADMIN_TOKEN, { name: "bench" });
  await apiCall(url, "PUT", `/v1/projects/${made.project.id}/orgs/demo`, made.ownerToken, {});
  return { project: made.project.id, owner: made.ownerToken };
}

/** The peer's GitHub-shaped payload generator, so both sides ingest the same bytes. */
export async function peerEvents(): Promise<{ makeEvent: (i: number) => { event: string; payload: unknown } }> {
  const file = join(PEER_DIR, "lib", "common.mjs");
  if (!existsSync(file)) throw new Error(`the peer's payload generator is missing: ${file}`);
  return import(file);
}

/** The next IPC message of a client process that `pick` accepts (an `error` message rejects). */
export function nextMessage<T>(child: ChildProcess, pick: (m: any) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: any) => {
      if (m.error) reject(new Error(m.error));
      const v = pick(m);
      if (v !== undefined) {
        child.off("message", on);
        resolve(v);
      }
    };
    child.on("message", on);
  });
}
