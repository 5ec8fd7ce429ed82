// `node runner/register-org.ts`: stores one org's credentials in this machine's credential store
// (SFP_CREDENTIALS and its settings, as the manager reads them). The CLI's `org register` runs it as
// a child process, so the CLI never imports the runner: the request arrives as one JSON object on
// stdin (the sfdx auth URL is a secret: never in argv), the answer is one JSON line on stdout, and a
// refusal is one line on stderr with exit code 1.
import { credentialsConfigFromEnv, registerOrg } from "./credentials/index.ts";

interface Request {
  alias: string;
  sfdxAuthUrl: string;
  project?: string;
}

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
    process.stderr.write("expected one JSON object {alias, sfdxAuthUrl, project?} on stdin\n");
    return 1;
  }
  try {
    const config = credentialsConfigFromEnv(process.env);
    const registered = await registerOrg({ alias: request.alias, sfdxAuthUrl: request.sfdxAuthUrl, config, project: request.project });
    process.stdout.write(`${JSON.stringify(registered)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main();
