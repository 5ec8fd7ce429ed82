// The commit a webhook delivery is about, for its tasks' commit statuses (issue 14): a GitHub pull
// request's head or a push's new head in the repository that sent it; a GitLab merge request's last
// commit or a push's checkout sha in its project. Other events (and branch deletions) name none.
import type { CommitRef } from "../protocol/notify.ts";
import type { WebhookKind } from "../protocol/webhook.ts";

const SHA = /^[0-9a-f]{40}$/;
const ZERO = "0".repeat(40);

function at(value: unknown, ...path: string[]): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function ref(provider: CommitRef["provider"], repo: unknown, sha: unknown, source: string): CommitRef | undefined {
  const repoText = typeof repo === "number" ? String(repo) : repo;
  if (typeof repoText !== "string" || !repoText || typeof sha !== "string" || !SHA.test(sha) || sha === ZERO) return undefined;
  return { provider, repo: repoText, sha, source };
}

export function commitOf(kind: WebhookKind, event: string, payload: unknown, source: string): CommitRef | undefined {
  if (kind === "github") {
    const repo = at(payload, "repository", "full_name");
    if (event.startsWith("pull_request.")) return ref("github", repo, at(payload, "pull_request", "head", "sha"), source);
    if (event === "push") return ref("github", repo, at(payload, "after"), source);
  }
  if (kind === "gitlab") {
    const project = at(payload, "project", "id") ?? at(payload, "project_id");
    if (event.startsWith("merge_request.")) return ref("gitlab", project, at(payload, "object_attributes", "last_commit", "id"), source);
    if (event === "push" || event === "tag_push") return ref("gitlab", project, at(payload, "checkout_sha") ?? at(payload, "after"), source);
  }
  return undefined;
}
