// A job's side of the credential hand-off (runner/README.md): the worker's one ask for its task's org
// is answered with that org's auth alone, once, after `start`; every other ask is refused. The job's
// secrets (the org's, and the tokens its worker reports having minted) are kept for masking the
// worker's relayed output.
import type { Task } from "../../protocol/task.ts";
import { CredentialError, type CredentialBroker } from "../credentials/broker.ts";
import { normalizeRepoUrl } from "../credentials/repo.ts";
import type { AuthAnswer, RepoAnswer } from "../ipc.ts";
import { createMasker, type Masker } from "../mask.ts";
import type { Logger } from "./log.ts";

/** Secrets a worker may report for masking (access tokens it minted); more are ignored. */
const MAX_REPORTED_SECRETS = 64;

export class JobCredentials {
  /** The job's secrets, masked in the worker's relayed output (a spare's own masker is adopted). */
  masker: Masker = createMasker();
  private answered = false;
  private repoAnswered = false;
  private reported = 0;
  private readonly task: Task;
  private readonly broker: CredentialBroker;
  private readonly log: Logger;

  constructor(task: Task, broker: CredentialBroker, log: Logger) {
    this.task = task;
    this.broker = broker;
    this.log = log;
  }

  /** The answer to the worker's ask; `started` says whether it has been given its task. */
  async answer(ask: { project: string; alias: string }, started: boolean): Promise<AuthAnswer> {
    const refuse = (why: string): AuthAnswer => {
      this.log.warn("refused a worker's credentials request", { why, asked: { project: ask.project, alias: ask.alias } });
      return { type: "auth", error: { code: "credentials_refused", message: `credentials refused: ${why}` } };
    };
    if (!started) return refuse("the worker has not been given its task yet");
    if (ask.project !== this.task.project || ask.alias !== this.task.org) return refuse("a worker gets only its own task's org");
    if (this.answered) return refuse("the org's credentials were already handed over");
    this.answered = true;
    try {
      const { auth, secrets } = await this.broker.authFor({ project: this.task.project, alias: this.task.org });
      this.masker.add(...secrets);
      return { type: "auth", auth };
    } catch (err) {
      const error =
        err instanceof CredentialError
          ? { code: err.code, message: err.message }
          : { code: "credentials_unavailable", message: "the runner's credential store failed unexpectedly" };
      this.log.warn("no credentials for the worker", { code: error.code, message: error.message, name: err instanceof Error ? err.name : typeof err });
      return { type: "auth", error };
    }
  }

  /**
   * The answer to the worker's ask for a repository token: only for the repository its task's
   * `source` names, once, after `start`; `credential: null` when none is registered (public).
   */
  async answerRepo(ask: { url: string }, started: boolean): Promise<RepoAnswer> {
    const refuse = (why: string): RepoAnswer => {
      this.log.warn("refused a worker's repository request", { why });
      return { type: "repo", error: { code: "credentials_refused", message: `repository credentials refused: ${why}` } };
    };
    if (!started) return refuse("the worker has not been given its task yet");
    const named = taskRepo(this.task);
    if (!named || !sameRepo(named, ask.url)) return refuse("a worker gets only the repository its task names");
    if (this.repoAnswered) return refuse("the repository's token was already handed over");
    this.repoAnswered = true;
    try {
      const credential = await this.broker.repoFor({ project: this.task.project, url: named });
      if (credential) this.masker.add(credential.token);
      return { type: "repo", credential };
    } catch (err) {
      const error =
        err instanceof CredentialError
          ? { code: err.code, message: err.message }
          : { code: "credentials_unavailable", message: "the runner's credential store failed unexpectedly" };
      this.log.warn("no repository token for the worker", { code: error.code, message: error.message });
      return { type: "repo", error };
    }
  }

  /** Secrets the worker learned, to mask in its output (bounded: a worker cannot grow this forever). */
  reportedSecrets(values: string[]): void {
    const room = Math.max(0, MAX_REPORTED_SECRETS - this.reported);
    this.reported += Math.min(room, values.length);
    this.masker.add(...values.slice(0, room));
  }
}

/** The repository a deploy or validate task's payload names in `source`, if any. */
function taskRepo(task: Task): string | undefined {
  if (task.type !== "deploy" && task.type !== "validate") return undefined;
  const source = (task.payload as { source?: { repo?: unknown } } | undefined)?.source;
  return typeof source?.repo === "string" ? source.repo : undefined;
}

function sameRepo(a: string, b: string): boolean {
  try {
    return normalizeRepoUrl(a) === normalizeRepoUrl(b);
  } catch {
    return false;
  }
}
