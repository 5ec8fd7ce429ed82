// For the CLI's command tests: a loopback stand-in for the edge that records each request and answers
// from the test's route, and `sfp-edge` run against it (logged in by environment, a fresh config dir).
import { mkdtemp } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { close, listen, type RecordedRequest, sendJson } from "../test/doubles/http.ts";
import { run } from "./main.ts";
import { memoryIo } from "./test-io.ts";

/** Registers the stand-in's start and stop with the file's hooks; `route` answers [status, body]. */
export function standInEdge(route: (req: IncomingMessage, body: string) => [number, unknown]) {
  const requests: RecordedRequest[] = [];
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  beforeAll(async () => {
    server = await listen((req, res, body) => {
      const [status, payload] = route(req, body);
      sendJson(res, status, payload);
    }, requests);
  });
  afterAll(() => server && close(server.server));

  async function cli(...argv: string[]) {
    const { io, stdout, stderr } = memoryIo({ SFP_EDGE_URL: server?.url, SFP_EDGE_TOKEN: "sfp_owner", SFP_EDGE_PROJECT: "prj_1" });
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-"));
    const code = await run(["--config-dir", dir, ...argv], io);
    return { code, out: stdout(), err: stderr() };
  }
  return { requests, cli };
}
