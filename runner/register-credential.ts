// `node runner/register-credential.ts`: stores one credential in this machine's credential store
// (SFP_CREDENTIALS and its settings, as the manager reads them) — an org's sfdx auth URL, or a
// repository's token. The CLI's `org register` and `repo register` run it as a child process, so the
// CLI never imports the runner: the request arrives as one JSON object on stdin (the secret is never
// in argv), the answer is one JSON line on stdout, and a refusal is one line on stderr with exit code 1.
import { credentialsConfigFromEnv, registerOrg, registerRepo } from "./credentials/index.ts";

type Request =
  | { kind?: "org"; alias: string; sfdxAuthUrl: string; project?: string }
  | { kind: "repo"; url: string; token: string; username?: string; project?: string };

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<number> {
  let request: Request;
  try {
    request = JSON.parse(await readStdin()) as Request;
  } catch {
    process.stderr.write('expected one JSON object on stdin: {alias, sfdxAuthUrl, project?} or {kind: "repo", url, token, username?, project?}\n');
    return 1;
  }
  try {
    const config = credentialsConfigFromEnv(process.env);
    const registered =
      request.kind === "repo"
        ? await registerRepo({
            url: String(request.url ?? ""),
            credential: { token: String(request.token ?? ""), ...(request.username !== undefined ? { username: String(request.username) } : {}) },
            config,
            project: request.project,
          })
        : await registerOrg({ alias: request.alias, sfdxAuthUrl: request.sfdxAuthUrl, config, project: request.project });
    process.stdout.write(`${JSON.stringify(registered)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main();
