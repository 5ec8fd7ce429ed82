// Commit statuses (issue 14): a task that names a commit (a GitHub/GitLab delivery's head, or an API
// task's `commit`) reports pending → running → success/failure/error to it with its source's status
// token. Rows queue in the same commit as the task index update (notifier.ts), one in flight per task
// so a commit never sees an older state after a newer one; a newer state supersedes one still waiting.
// 5xx, 429 and no answer retry on the webhook schedule; 401/403 mark the token refused on the source.
import { log } from "../common/log.ts";
import type { TaskStatus, TaskSummary } from "../protocol/index.ts";
import type { CommitProvider, CommitRef } from "../protocol/notify.ts";
import { dashboardLink, type NotifyChannel } from "./notifier.ts";
import { ATTEMPT_TIMEOUT_MS, MAX_TRIES, retryWait } from "./notify-deliveries.ts";
import type { SourceStatusTokens, StatusCredentials } from "./notify-status-tokens.ts";

type StatusRow = {
  id: number;
  task_id: string;
  source: string;
  provider: CommitProvider;
  repo: string;
  sha: string;
  body: string;
  tries: number;
};

interface StatusBody {
  status: TaskStatus;
  type: string;
  errorCode: string | null;
}

const GITHUB_STATES: Partial<Record<TaskStatus, string>> = {
  queued: "pending",
  running: "pending",
  succeeded: "success",
  failed: "failure",
  canceled: "error",
};
const GITLAB_STATES: Partial<Record<TaskStatus, string>> = {
  queued: "pending",
  running: "running",
  succeeded: "success",
  failed: "failed",
  canceled: "canceled",
};
/** Task error codes that are the system's failure, not the change's: GitHub's `error`, not `failure`. */
const SYSTEM_FAILURES = new Set(["lost", "no_runner"]);

export class CommitStatuses implements NotifyChannel {
  private readonly sql: SqlStorage;
  private readonly tokens: SourceStatusTokens;
  private readonly kick: () => void;
  private readonly inFlight = new Set<string>();
  /** Sources already warned about in this actor's life: the warning is per source, not per task change. */
  private readonly warned = new Set<string>();

  constructor(sql: SqlStorage, tokens: SourceStatusTokens, kick: () => void) {
    this.sql = sql;
    this.tokens = tokens;
    this.kick = kick;
  }

  taskChanged(task: TaskSummary, now: number): boolean {
    const commit: CommitRef | undefined = task.commit;
    if (!commit || !GITHUB_STATES[task.status]) return false;
    const source = this.tokens.sourceFor(commit.provider, commit.source);
    if (!source) {
      const key = `${commit.provider}/${commit.source ?? ""}`;
      if (!this.warned.has(key)) {
        this.warned.add(key);
        log("warn", "commit status skipped: no source with a status token (said once per source)", { taskId: task.id, provider: commit.provider });
      }
      return false;
    }
    const body: StatusBody = { status: task.status, type: task.type, errorCode: task.error?.code ?? null };
    const written = this.sql.exec(
      `INSERT INTO sfp_commit_statuses (task_id, source, provider, repo, sha, body, status, next_at, created_at, dedupe)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT(dedupe) DO NOTHING`,
      task.id,
      source,
      commit.provider,
      commit.repo,
      commit.sha,
      JSON.stringify(body),
      now,
      now,
      `${task.id}/${task.status}/${task.attempt}`,
    ).rowsWritten;
    if (!written) return false;
    // An older state still waiting (not on its way) is moot now.
    if (!this.inFlight.has(task.id))
      this.sql.exec(
        "UPDATE sfp_commit_statuses SET status = 'superseded', next_at = NULL WHERE task_id = ? AND status = 'pending' AND id < last_insert_rowid()",
        task.id,
      );
    return true;
  }

  nextDue(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(next_at) AS at FROM sfp_commit_statuses WHERE status = 'pending'").one().at;
  }

  async sendDue(now: number): Promise<void> {
    const rows = this.sql.exec<StatusRow>("SELECT * FROM sfp_commit_statuses WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT 50", now).toArray();
    const first = new Map<string, StatusRow>();
    for (const row of rows) if (!this.inFlight.has(row.task_id) && !first.has(row.task_id)) first.set(row.task_id, row);
    await Promise.all([...first.values()].map((row) => this.attempt(row, now)));
  }

  private async attempt(row: StatusRow, now: number): Promise<void> {
    this.inFlight.add(row.task_id);
    const tries = row.tries + 1;
    this.sql.exec("UPDATE sfp_commit_statuses SET tries = ?, next_at = ? WHERE id = ?", tries, now + retryWait(tries), row.id);
    try {
      const creds = await this.tokens.credentials(row.source);
      if (!creds) return this.finish(row.id, null, "failed");
      const code = await post(creds, row, JSON.parse(row.body));
      this.settle(row, tries, creds.provider, code);
    } finally {
      this.inFlight.delete(row.task_id);
      // The task's next state may be waiting for this one.
      if (this.sql.exec("SELECT 1 FROM sfp_commit_statuses WHERE task_id = ? AND status = 'pending' AND id > ?", row.task_id, row.id).toArray().length)
        this.kick();
    }
  }

  private settle(row: StatusRow, tries: number, provider: CommitProvider, answer: { code: number | null; retryable: boolean }): void {
    const { code } = answer;
    const name = provider === "github" ? "GitHub" : "GitLab";
    if (code !== null && code >= 200 && code < 300) {
      this.tokens.clearError(row.source);
      this.finish(row.id, code, "succeeded");
      return;
    }
    if (answer.retryable && tries < MAX_TRIES) {
      this.finish(row.id, code, "retry");
      return;
    }
    if (code === 401 || code === 403)
      this.tokens.fail(
        row.source,
        "status_token_rejected",
        `${name} answered ${code} to a commit status: the token was refused (revoked, expired or without access to ${row.repo}); PUT the source with a new statusToken`,
      );
    else if (code === 404)
      this.tokens.fail(
        row.source,
        "status_target_not_found",
        `${name} answered 404 for ${row.repo}@${row.sha.slice(0, 12)}: no such repository or commit for this token`,
      );
    else if (code !== null && !answer.retryable) this.tokens.fail(row.source, "status_refused", `${name} refused a commit status with ${code}`);
    this.finish(row.id, code, "failed");
  }

  private finish(id: number, code: number | null, outcome: "succeeded" | "failed" | "retry"): void {
    if (outcome === "retry") this.sql.exec("UPDATE sfp_commit_statuses SET last_code = ? WHERE id = ?", code, id);
    else this.sql.exec("UPDATE sfp_commit_statuses SET last_code = ?, status = ?, next_at = NULL WHERE id = ?", code, outcome, id);
  }
}

/** The provider's own request: GitHub `POST /repos/{owner}/{repo}/statuses/{sha}`, GitLab `POST /projects/{id}/statuses/{sha}`. */
async function post(creds: StatusCredentials, row: StatusRow, body: StatusBody): Promise<{ code: number | null; retryable: boolean }> {
  const context = `sfp-edge/${body.type}`;
  const targetUrl = dashboardLink(creds.origin, row.task_id);
  const description = describe(body).slice(0, 140);
  const github = creds.provider === "github";
  const state =
    github && body.status === "failed" && body.errorCode && SYSTEM_FAILURES.has(body.errorCode)
      ? "error"
      : (github ? GITHUB_STATES : GITLAB_STATES)[body.status];
  const url = github
    ? `${creds.apiUrl}/repos/${row.repo.split("/").map(encodeURIComponent).join("/")}/statuses/${row.sha}`
    : `${creds.apiUrl}/projects/${encodeURIComponent(row.repo)}/statuses/${row.sha}`;
  const headers: Record<string, string> = github
    ? {
        authorization: `Bearer ${creds.token}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "sfp-edge",
        "content-type": "application/json",
      }
    : { "private-token": creds.token, "content-type": "application/json", "user-agent": "sfp-edge" };
  const payload = github
    ? { state, target_url: targetUrl, description, context }
    : { state, name: context, ...(targetUrl ? { target_url: targetUrl } : {}), description };
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error("no answer in time")), ATTEMPT_TIMEOUT_MS);
  try {
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(payload), redirect: "manual", signal: abort.signal });
    await res.body?.cancel();
    const limited = res.status === 429 || (res.status === 403 && (res.headers.has("retry-after") || res.headers.get("x-ratelimit-remaining") === "0"));
    return { code: res.status, retryable: res.status >= 500 || limited };
  } catch (err) {
    // The error of a fetch names the URL at most, never the headers that hold the token.
    log("warn", "commit status got no answer", { taskId: row.task_id, provider: creds.provider, error: String(err) });
    return { code: null, retryable: true };
  } finally {
    clearTimeout(timer);
  }
}

function describe(body: StatusBody): string {
  if (body.status === "queued") return "Queued on sfp-edge";
  if (body.status === "running") return "Running on sfp-edge";
  if (body.status === "succeeded") return `${body.type} succeeded`;
  if (body.status === "canceled") return `${body.type} canceled`;
  return `${body.type} failed${body.errorCode ? `: ${body.errorCode}` : ""}`;
}
