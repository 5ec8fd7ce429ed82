// Approvals of tasks to protected orgs (issue 13): an owner or an `approver` token lets a task
// awaiting approval through to its org's lock, or rejects it (canceled). Who and when become events.
import { createRoute, z } from "@hono/zod-openapi";
import { Task } from "../../protocol/index.ts";
import { taskActorOf } from "../auth/task-id.ts";
import { requireProjectToken } from "../auth/middleware.ts";
import { bearerAuth, errors, json, router } from "../openapi.ts";

export const approvals = router();

const TaskParam = z.object({ id: z.string().min(1).max(64) });

for (const decision of ["approve", "reject"] as const) {
  approvals.openapi(
    createRoute({
      method: "post",
      path: `/v1/tasks/{id}/${decision}`,
      summary:
        decision === "approve"
          ? "Approve a task awaiting approval (owner, approver): it goes back to queued and waits for its org's lock"
          : "Reject a task awaiting approval (owner, approver): it is canceled, the rejecter recorded in its events",
      security: bearerAuth,
      request: { params: TaskParam },
      responses: { 200: json(z.object({ task: Task }), decision === "approve" ? "approved" : "rejected"), ...errors(401, 403, 404, 409, 429) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const caller = await requireProjectToken(c, "task:approve", undefined);
      const by = { tokenId: caller.tokenId, role: caller.role };
      const stub = await taskActorOf(c, id);
      const task: Task = decision === "approve" ? await stub.approve(caller.project, by) : await stub.reject(caller.project, by);
      return c.json({ task }, 200);
    },
  );
}
