// A task's side of its org's lock and approvals (issue 13). A task that changes an org asks the org's
// actor (org-actor.ts) for the lock instead of going to the dispatcher; the org actor answers through
// `notice`: granted (now the dispatcher may offer it), waiting (where it stands), or approval (the org
// is protected: the task waits in `awaiting_approval` until an approver decides or the time runs out).
// The lock is the task's until its terminal state, whatever its leases do.
import { queueEntry } from "../common/messages.ts";
import {
  APPROVAL_EXPIRED,
  isTerminal,
  needsOrgLock,
  rpcError,
  type Approval,
  type Role,
  type Task,
  type TaskStatus,
  type WaitingFor,
} from "../protocol/index.ts";
import type { OrgNotice } from "./org-actor.ts";
import { nowIso } from "./sql.ts";
import type { EventDraft } from "./task-events.ts";
import type { TaskChanges } from "./task-lease.ts";
import type { TaskMessage } from "./task-outbox.ts";
import type { Timers } from "./timers.ts";

/** Where the task stands with its org's lock: asked for it, holds it, or gave it back. */
export const ORG_GATE_TABLE = "CREATE TABLE sfp_org_gate (id INTEGER PRIMARY KEY CHECK (id = 1), lock TEXT NOT NULL)";
export const APPROVAL_TIMER = "approval";

type LockState = "requested" | "held" | "released";

/** Who approved or rejected. */
export interface Decider {
  tokenId: string;
  role: Role;
}

export class TaskOrgGate {
  private readonly sql: SqlStorage;
  private readonly timers: Timers;
  private readonly changes: TaskChanges;

  constructor(sql: SqlStorage, timers: Timers, changes: TaskChanges) {
    this.sql = sql;
    this.timers = timers;
    this.changes = changes;
  }

  /** The first messages of a new task: a lock request for a task that changes its org, else the queue. */
  born(task: Task): TaskMessage[] {
    if (!needsOrgLock(task.type)) return [{ kind: "enqueue", body: queueEntry(task) }];
    return [this.request(task, false)];
  }

  /** A webhook task taken over from its ingest shard, which queued every other type already. */
  materialized(task: Task): TaskMessage[] {
    return needsOrgLock(task.type) ? [this.request(task, false)] : [];
  }

  /** A webhook task whose ingest shard asked the org's lock for it (OrgActor.requestMany): nothing to send. */
  adopted(): TaskMessage[] {
    this.setLock("requested");
    return [];
  }

  /** What a move to `status` also sends: the lock back at a terminal state. Called inside the move's commit. */
  onMove(from: TaskStatus, status: TaskStatus, task: Task): TaskMessage[] {
    if (from === "awaiting_approval" && status !== "awaiting_approval") this.timers.clear(APPROVAL_TIMER);
    const lock = this.lock();
    if (!isTerminal(status) || (lock !== "requested" && lock !== "held")) return [];
    this.setLock("released");
    return [{ kind: "unlock", body: { project: task.project, org: task.org, taskId: task.id } }];
  }

  /** The org actor's word. Never throws for a notice that no longer fits: its outbox would retry it forever. */
  notice(task: Task, notice: OrgNotice): void {
    const lock = this.lock();
    if (notice.kind === "granted") {
      if (lock !== "requested") return;
      this.setLock("held");
      const outbox: TaskMessage[] = task.status === "queued" ? [{ kind: "enqueue", body: queueEntry(task) }] : [];
      // A task that never had to wait gets no event: an uncontended deploy's history is as it always was.
      const drafts: EventDraft[] = task.waitingFor ? [{ type: "lock", org: task.org, state: "held" }] : [];
      this.changes.record({ ...task, waitingFor: undefined }, drafts, outbox);
      return;
    }
    if (lock !== "requested" || task.status !== "queued") return;
    if (notice.kind === "waiting") {
      const waitingFor: WaitingFor = { org: task.org, position: notice.position, holder: notice.holder };
      if (JSON.stringify(task.waitingFor) === JSON.stringify(waitingFor)) return;
      this.changes.record({ ...task, waitingFor }, [{ type: "lock", state: "waiting", ...waitingFor }]);
      return;
    }
    // The org is protected: the task leaves the line's door and waits for an approver.
    this.sql.exec("DELETE FROM sfp_org_gate");
    const expires = Date.now() + notice.timeoutSeconds * 1000;
    const expiresAt = nowIso(expires);
    this.timers.set(APPROVAL_TIMER, expires);
    this.changes.moveTo(task, "awaiting_approval", {
      patch: { waitingFor: undefined, approval: { expiresAt } },
      events: [{ type: "approval", decision: "required", org: task.org, expiresAt }],
    });
  }

  /** An approver lets the task through: it asks for the lock again, approved. */
  approve(task: Task, by: Decider): Task {
    this.awaitingApproval(task);
    const approval: Approval = { expiresAt: task.approval?.expiresAt ?? nowIso(), decision: "approved", by: by.tokenId, at: nowIso() };
    return this.changes.moveTo(task, "queued", {
      patch: { approval },
      events: [{ type: "approval", decision: "approved", org: task.org, by: by.tokenId, role: by.role }],
      outbox: [this.request(task, true)],
    });
  }

  /** An approver says no: the task is canceled, the rejecter in its events. */
  reject(task: Task, by: Decider): Task {
    this.awaitingApproval(task);
    const approval: Approval = { expiresAt: task.approval?.expiresAt ?? nowIso(), decision: "rejected", by: by.tokenId, at: nowIso() };
    return this.changes.moveTo(task, "canceled", {
      patch: { approval },
      events: [{ type: "approval", decision: "rejected", org: task.org, by: by.tokenId, role: by.role }],
    });
  }

  /** The approval timer fired: a task still awaiting approval fails with `approval_expired`. */
  expired(task: Task): void {
    if (task.status !== "awaiting_approval") return;
    const expiresAt = task.approval?.expiresAt;
    const error = { code: APPROVAL_EXPIRED, message: `no approver approved or rejected the task by ${expiresAt ?? "its deadline"}` };
    this.changes.moveTo(task, "failed", { patch: { error }, events: [{ type: "approval", decision: "expired", org: task.org, expiresAt }] });
  }

  private awaitingApproval(task: Task): void {
    if (isTerminal(task.status)) throw rpcError("already_finished", `task already ${task.status}`);
    if (task.status !== "awaiting_approval") throw rpcError("conflict", `the task is ${task.status}, not awaiting approval`);
  }

  private request(task: Task, approved: boolean): TaskMessage {
    this.setLock("requested");
    const { project, org, id: taskId, priority, createdAt } = task;
    return { kind: "lock", body: { project, org, taskId, priority, createdAt, approved } };
  }

  private lock(): LockState | null {
    const row = this.sql.exec<{ lock: LockState }>("SELECT lock FROM sfp_org_gate WHERE id = 1").toArray()[0];
    return row ? row.lock : null;
  }

  private setLock(lock: LockState): void {
    this.sql.exec("INSERT INTO sfp_org_gate (id, lock) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET lock = excluded.lock", lock);
  }
}

/** Whether the task's place at its org's lock or its approval changed (the list and the feed show both). */
export function gateChanged(prev: Task, next: Task): boolean {
  return JSON.stringify(prev.waitingFor) !== JSON.stringify(next.waitingFor) || JSON.stringify(prev.approval) !== JSON.stringify(next.approval);
}
