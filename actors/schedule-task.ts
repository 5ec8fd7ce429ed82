// The task one slot of a schedule makes: the schedule's template with the defaults the task API fills
// (edge/new-task.ts), its org's pool as the project has it at the slot, and a `schedule` source.
import type { NewTask } from "../common/messages.ts";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_SECONDS, type ScheduleTaskTemplate } from "../protocol/index.ts";
import type { ProjectView } from "./project-actor.ts";

/** The slot's task, or why it cannot be made (its org is no longer registered). */
export function slotTask(
  id: string,
  project: string,
  view: ProjectView,
  template: ScheduleTaskTemplate,
  schedule: string,
  slot: number,
): NewTask | { error: string } {
  const org = view.orgs[template.org];
  if (!org) return { error: `org: unknown org alias "${template.org}"` };
  return {
    id,
    project,
    type: template.type,
    org: template.org,
    payload: template.payload ?? {},
    priority: template.priority ?? "normal",
    pool: template.pool ?? org.pool,
    labels: [...new Set(template.labels ?? [])].sort(),
    timeoutSeconds: template.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    maxAttempts: template.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    source: { kind: "schedule", schedule, slot: new Date(slot).toISOString() },
    ...(template.commit ? { commit: template.commit } : {}),
  };
}
