// A job's side of the credential hand-off (runner/README.md): the worker's one ask for its task's org
// is answered with that org's auth alone, once, after `start`; every other ask is refused. The job's
// secrets (the org's, and the tokens its worker reports having minted) are kept for masking the
// worker's relayed output.
import type { Task } from "../../protocol/task.ts";
import { CredentialError, type CredentialBroker } from "../credentials/broker.ts";
import type { AuthAnswer } from "../ipc.ts";
import { createMasker, type Masker } from "../mask.ts";
import type { Logger } from "./log.ts";

/** Secrets a worker may report for masking (access tokens it minted); more are ignored. */
const MAX_REPORTED_SECRETS = 64;

export class JobCredentials {
  /** The job's secrets, masked in the worker's relayed output (a spare's own masker is adopted). */
  masker: Masker = createMasker();
  private answered = false;
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

  /** Secrets the worker learned, to mask in its output (bounded: a worker cannot grow this forever). */
  reportedSecrets(values: string[]): void {
    const room = Math.max(0, MAX_REPORTED_SECRETS - this.reported);
    this.reported += Math.min(room, values.length);
    this.masker.add(...values.slice(0, room));
  }
}
