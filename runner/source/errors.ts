// How preparing a source deploy fails: one code per cause the user can act on, never a secret in the
// message (git's words are masked with the job's token before they are kept).

export type SourceErrorCode =
  /** The repository refused the token, or wants one and none was given. */
  | "repo_auth"
  /** The repository has no such commit, branch or tag (or will not serve that sha). */
  | "ref_not_found"
  /** The host could not be reached, or answered neither a repository nor an auth challenge. */
  | "repo_unreachable"
  /** The checkout is no usable sfdx project (no sfdx-project.json, a missing package directory…), or the URL is not allowed here. */
  | "invalid_source"
  /** source-deploy-retrieve or sfdx-git-delta could not turn the source into a deploy. */
  | "conversion_failed"
  /** The converted zip is over Salesforce's deploy limit. */
  | "too_large";

export class SourceError extends Error {
  readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, message: string) {
    super(message);
    this.name = "SourceError";
    this.code = code;
  }
}

const AUTH = [
  /Authentication failed/i,
  /could not read (Username|Password)/i,
  /terminal prompts disabled/i,
  /HTTP Basic: Access denied/i,
  /requested URL returned error: 40[13]\b/i,
  /Invalid username or (password|token)/i,
];
const NOT_FOUND = [
  /not our ref/i,
  /couldn't find remote ref/i,
  /unadvertised object/i,
  /no such remote ref/i,
  /invalid refspec|is not a valid ref name|bad revision|unknown revision/i,
];

/** Classifies what a network git command (fetch) printed when it failed. */
export function classifyFetchFailure(stderr: string, where: string, wanted: string[]): SourceError {
  const last = lastMeaningfulLine(stderr);
  if (AUTH.some((r) => r.test(stderr))) {
    const asked = /could not read Username|terminal prompts disabled/i.test(stderr);
    return new SourceError(
      "repo_auth",
      asked
        ? `${where} asks for credentials and no repository token is registered for it`
        : `${where} refused the repository token (wrong, expired, or without read access)`,
    );
  }
  if (NOT_FOUND.some((r) => r.test(stderr))) {
    return new SourceError("ref_not_found", `${where} has no commit, branch or tag ${wanted.join(" or ")} it will serve (git: ${last})`);
  }
  return new SourceError("repo_unreachable", `cannot fetch from ${where}: ${last}`);
}

/** The last line git printed that says something (progress lines and blanks skipped). */
export function lastMeaningfulLine(stderr: string): string {
  const lines = stderr
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => l && !/^remote: (Enumerating|Counting|Compressing|Total)|^(Receiving|Resolving) (objects|deltas)/.test(l));
  return (lines.at(-1) ?? "git failed without a message").replace(/^(fatal|error): /, "");
}
