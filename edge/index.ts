// The Worker entry: the hono app handles every request; the actor classes are exported for their bindings.
import { app } from "./app.ts";
import type { Env } from "../actors/env.ts";

export { TaskActor } from "../actors/task-actor.ts";
export { ProjectActor } from "../actors/project-actor.ts";
export { DispatcherActor } from "../actors/dispatcher-actor.ts";
export { IngestActor } from "../actors/ingest-actor.ts";
export { OrgActor } from "../actors/org-actor.ts";
export { ScheduleActor } from "../actors/schedule-actor.ts";
export { ScheduleListActor } from "../actors/schedule-list.ts";
export { MetricsActor } from "../actors/metrics-actor.ts";

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
