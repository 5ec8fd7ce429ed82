// Client side of the notification tests: the loopback receiver (test/doubles/webhook-receiver.ts,
// started by loopback-doubles.ts), endpoint PUTs, and forcing the ProjectActor's next retry now —
// the schedule is hours long, so tests move a delivery's retry time instead of waiting for it.
import { env } from "cloudflare:test";
import { inject } from "vitest";
import type { NotificationDelivery } from "../../protocol/notify.ts";
import type { ReceivedDelivery } from "../doubles/webhook-receiver.ts";
import { alarmAfter, api } from "./helpers.ts";

export function projectActor(project: string) {
  return env.PROJECT.get(env.PROJECT.idFromName(project));
}

/** A receiver of its own: `url` to PUT as the endpoint, `script` its answers, `received` what came. */
export function receiver() {
  const base = inject("receiverUrl");
  const key = crypto.randomUUID();
  return {
    url: `${base}/r/${key}`,
    async script(secret: string, responses: number[] = [], hold = false): Promise<void> {
      await fetch(`${base}/_script/${key}`, { method: "PUT", body: JSON.stringify({ secret, responses, hold }) });
    },
    async received(): Promise<ReceivedDelivery[]> {
      const res = await fetch(`${base}/_log/${key}`);
      return ((await res.json()) as { received: ReceivedDelivery[] }).received;
    },
    async release(): Promise<void> {
      await fetch(`${base}/_release/${key}`, { method: "POST" });
    },
  };
}

/** Turns the local-development setting on for this test (the Worker reads `env` at each use). */
export function allowLoopback(on: boolean): () => void {
  const before = env.SFP_ALLOW_LOOPBACK_ENDPOINTS;
  env.SFP_ALLOW_LOOPBACK_ENDPOINTS = on ? "1" : undefined;
  return () => {
    env.SFP_ALLOW_LOOPBACK_ENDPOINTS = before;
  };
}

export async function putEndpoint(project: string, owner: string, name: string, body: Record<string, unknown>) {
  return api("PUT", `/v1/projects/${project}/notification-endpoints/${name}`, { token: owner, body });
}

export async function deliveries(project: string, owner: string, name: string): Promise<NotificationDelivery[]> {
  const res = await api("GET", `/v1/projects/${project}/notification-endpoints/${name}/deliveries`, { token: owner });
  if (res.status !== 200) throw new Error(`deliveries: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.deliveries;
}

/**
 * Makes the pending rows of `table` (optionally one delivery, only if it has made `attempts` attempts)
 * due now and runs the ProjectActor's alarm, which sends them and resolves once they are answered.
 */
export async function retryNow(project: string, opts: { table?: "sfp_notify_deliveries" | "sfp_commit_statuses"; id?: string; attempts?: number } = {}) {
  const stub = projectActor(project);
  const table = opts.table ?? "sfp_notify_deliveries";
  await alarmAfter(stub, (sql) => {
    const past = Date.now() - 1;
    const where = opts.id !== undefined ? " AND id = ?" : "";
    const guard = opts.attempts !== undefined ? " AND attempts = ?" : "";
    const args = [past, ...(opts.id !== undefined ? [opts.id] : []), ...(opts.attempts !== undefined ? [opts.attempts] : [])];
    sql.exec(`UPDATE ${table} SET next_at = ? WHERE status = 'pending'${where}${guard}`, ...args);
    sql.exec("UPDATE sfp_timers SET at = ? WHERE name = 'notify'", past);
  });
}
