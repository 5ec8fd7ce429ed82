// The org lock's long lines (actors/org-line.ts): the first EXACT_PLACES waiters always know their
// exact place; further back a waiter is re-told only when its place halved, in one
// pass per RETELL_MS — so a line of n costs O(n log n) notices as it drains, not n².
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { EXACT_PLACES } from "../../actors/org-line.ts";
import { alarmAfter, createTask, putOrg, setup } from "./helpers.ts";
import { events, line, orgActor, until } from "./org-lock-helpers.ts";
import { readTask } from "./runner-helpers.ts";

const WAITERS = 40;

/** Runs the pass over the far waiters now (its timer made due rather than waited for). */
async function runRetell(project: string) {
  await alarmAfter(orgActor(project), (sql) => sql.exec("UPDATE sfp_timers SET at = ? WHERE name = 'retell'", Date.now() - 1));
}

async function lockEvents(owner: string, taskId: string) {
  return (await events(owner, taskId)).filter((e) => e.type === "lock");
}

describe("a long line at one org", () => {
  it("tells near waiters exactly, and far waiters only when their place halved", async () => {
    const { project, owner } = await setup();
    const holder = await createTask(project, owner);
    const waiters = [];
    for (let i = 0; i < WAITERS; i++) waiters.push(await createTask(project, owner));
    // Every waiter joined behind everyone and is told its place at once, wherever it stands.
    for (const [i, w] of waiters.entries()) expect(w.waitingFor).toEqual({ org: "demo", position: i + 1, holder: holder.id });

    // 15 more may hold the lock: every waiter moves up 15 places.
    await putOrg(project, owner, "demo", { maxConcurrentDeploys: 16 });
    await until(owner, waiters[14].id, (t) => t.waitingFor === undefined, "holding");
    expect((await line(project)).filter((l) => l.holding)).toHaveLength(16);
    for (let i = 15; i < 15 + EXACT_PLACES; i++) {
      await until(owner, waiters[i].id, (t) => t.waitingFor?.position === i - 14 && t.waitingFor.holder === holder.id, `at place ${i - 14}`);
    }

    await runRetell(project);

    // Told 26..30, now 11..15: halved, so re-told exactly.
    for (let i = 25; i < 30; i++) await until(owner, waiters[i].id, (t) => t.waitingFor?.position === i - 14, `re-told place ${i - 14}`);
    // Told 31..40, now 16..25: not halved, so still their first place and one lock event each.
    for (let i = 30; i < WAITERS; i++) {
      expect((await readTask(owner, waiters[i].id)).waitingFor?.position).toBe(i + 1);
      expect(await lockEvents(owner, waiters[i].id)).toHaveLength(1);
    }
    expect(await lockEvents(owner, waiters[25].id)).toHaveLength(2);
  });

  it("does not re-tell far waiters that higher priorities pushed back, until their place halves", async () => {
    const { project, owner } = await setup();
    await createTask(project, owner);
    const batch = [];
    for (let i = 0; i < 12; i++) batch.push(await createTask(project, owner, { type: "validate", priority: "batch" }));
    const last = batch[11];
    expect(last.waitingFor?.position).toBe(12);
    const critical = [];
    for (let i = 0; i < 12; i++) critical.push(await createTask(project, owner, { priority: "critical" }));
    await runRetell(project);
    // Really 24th now, still shown 12th: one lock event; the first ten in line are exact.
    expect((await readTask(owner, last.id)).waitingFor?.position).toBe(12);
    expect(await lockEvents(owner, last.id)).toHaveLength(1);
    for (let i = 0; i < 10; i++) await until(owner, critical[i].id, (t) => t.waitingFor?.position === i + 1, `exact place ${i + 1}`);
  });

  it("answers a shard's batch of many askers with each one's exact place, and re-tells only when someone joined ahead", async () => {
    const { project, owner } = await setup();
    const holder = await createTask(project, owner);
    const org = orgActor(project);
    const at = Date.now();
    const ask = (prefix: string, n: number, priority: "normal" | "critical", from: number) =>
      Array.from({ length: n }, (_, i) => ({
        project,
        org: "demo",
        taskId: `${prefix}-${i}`,
        priority,
        createdAt: new Date(at + from + i).toISOString(),
        approved: false,
      }));
    const retellArmed = () =>
      runInDurableObject(org, (_i, state) => state.storage.sql.exec("SELECT 1 FROM sfp_timers WHERE name = 'retell'").toArray().length > 0);

    // More askers than exact places, all behind everyone: each gets its place, nobody else moved.
    const normal = await org.requestMany(project, "demo", ask("n", EXACT_PLACES + 5, "normal", 0));
    for (let i = 0; i < EXACT_PLACES + 5; i++) expect(normal[`n-${i}`]).toEqual({ position: i + 1, holder: holder.id });
    expect(await retellArmed()).toBe(false);

    // Critical ones join ahead of the far waiters: their places are exact, and the pushed-back are re-told later.
    const critical = await org.requestMany(project, "demo", ask("c", EXACT_PLACES + 2, "critical", 1000));
    for (let i = 0; i < EXACT_PLACES + 2; i++) expect(critical[`c-${i}`]).toEqual({ position: i + 1, holder: holder.id });
    expect(await retellArmed()).toBe(true);

    // One batch of two priorities: each is placed after everyone of its own priority and better.
    const mixed = await org.requestMany(project, "demo", [...ask("m-n", 2, "normal", 2000), ...ask("m-c", 2, "critical", 3000)]);
    const critical12 = EXACT_PLACES + 2;
    const normal15 = EXACT_PLACES + 5;
    expect([mixed["m-c-0"], mixed["m-c-1"]].map((p) => p?.position)).toEqual([critical12 + 1, critical12 + 2]);
    expect([mixed["m-n-0"], mixed["m-n-1"]].map((p) => p?.position)).toEqual([critical12 + 2 + normal15 + 1, critical12 + 2 + normal15 + 2]);
  });
});
