// What every edge isolate remembers of a project for a short while: which tokens are revoked and
// which orgs exist (with their pools). Revocations reach every edge within VIEW_TTL_MS; the edge that
// revokes forgets its copy at once.
import type { ProjectView } from "../../actors/project-actor.ts";
import { fromRpcError, REVOCATION_SECONDS } from "../../protocol/index.ts";
import { projectStub, type Env } from "../../actors/env.ts";

export const VIEW_TTL_MS = REVOCATION_SECONDS * 1000;

const views = new Map<string, { view: ProjectView; revoked: Set<string>; at: number }>();

/** The project's view, or null when the project does not exist. */
export async function projectView(env: Env, project: string, fresh = false): Promise<{ view: ProjectView; revoked: Set<string> } | null> {
  const cached = views.get(project);
  if (cached && !fresh && Date.now() - cached.at < VIEW_TTL_MS) return cached;
  try {
    const view = await projectStub(env, project).view();
    const entry = { view, revoked: new Set(view.revoked), at: Date.now() };
    views.set(project, entry);
    return entry;
  } catch (err) {
    if (fromRpcError(err)?.code === "not_found") return null;
    throw err;
  }
}

export function forgetProjectView(project: string): void {
  views.delete(project);
}
