// Every route that names a task checks the id's tag here before any actor hop: an id this deployment
// never minted gets exactly the answer an unknown task gets (404 `not_found`, "no such task"), so
// forged ids neither birth a TaskActor nor reach an ingest shard. Call it after the caller's
// credential and role are checked, as the actor would be, so its answer tells nothing more.
import { ApiError } from "../../protocol/index.ts";
import { isGenuineTaskId } from "../../common/task-ids.ts";
import { taskStub } from "../../actors/env.ts";
import type { AppContext } from "../http.ts";

/** The message an unknown task's 404 carries (actors/task-actor.ts `visible`). */
export const NO_SUCH_TASK = "no such task";

/** Whether `id` is a task id this deployment minted. */
export function genuineTaskId(c: AppContext, id: string): Promise<boolean> {
  return isGenuineTaskId(c.env.TOKEN_SIGNING_KEY, id);
}

/** The task's actor, or the unknown task's 404 for an id this deployment never minted. */
export async function taskActorOf(c: AppContext, id: string): Promise<ReturnType<typeof taskStub>> {
  if (!(await genuineTaskId(c, id))) throw new ApiError("not_found", NO_SUCH_TASK);
  return taskStub(c.env, id);
}
