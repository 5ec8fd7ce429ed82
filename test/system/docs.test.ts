// docs/API.md is the reference users read, so it must not drift from the code: every error code is in
// its errors table with its status (its routes: test/workers/docs-routes.test.ts, next to the app),
// and no tracked file sends the reader to a design document that a clone of the repository does not
// have. The test folders' READMEs name every file they hold.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS, type ErrorCode } from "../../protocol/errors.ts";
import { LEASE_LOST, NO_RUNNER, RESULT_TOO_LARGE } from "../../protocol/runner.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const apiDoc = readFileSync(`${root}docs/API.md`, "utf8");

/** The errors table's rows: `` | `code` | status | when | ``. */
function documentedErrors(markdown: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of markdown.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) out.set(m[1], Number(m[2]));
  return out;
}

/** The task error codes table's rows: `` | `code` | edge or runner | when | ``. */
function documentedTaskErrors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(?:edge|runner)\s*\|/gm)].map((m) => m[1]));
}

// Spelled in two parts so that this file does not name it itself.
const OUTSIDE_DESIGN_DOC = ["DESIGN", "md"].join(".");

/**
 * Files outside the docs change's reach (actors/ was being restructured at the same time) that still
 * name the outside document. Each entry must go once its file is fixed: the second test insists.
 */
const PENDING = new Set<string>();

function trackedFilesNaming(text: string): string[] {
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: root }).toString().split("\0").filter(Boolean);
  return files.filter((file) => existsSync(`${root}${file}`) && readFileSync(`${root}${file}`).includes(text));
}

describe("docs/API.md", () => {
  it("lists every error code of protocol/errors.ts with its status, and no other", () => {
    const documented = documentedErrors(apiDoc);
    const codes = Object.keys(ERROR_STATUS) as ErrorCode[];
    expect(codes.filter((code) => documented.get(code) !== ERROR_STATUS[code])).toEqual([]);
    expect([...documented.keys()].filter((code) => !(code in ERROR_STATUS))).toEqual([]);
  });
});

describe("docs/API.md task errors", () => {
  it("lists the task error codes the edge and the runner manager set", () => {
    const documented = documentedTaskErrors(apiDoc);
    expect([LEASE_LOST, NO_RUNNER, RESULT_TOO_LARGE].filter((code) => !documented.has(code))).toEqual([]);
  });
});

describe("references", () => {
  it("send no reader to a design document outside the repository", () => {
    expect(trackedFilesNaming(OUTSIDE_DESIGN_DOC).filter((file) => !PENDING.has(file))).toEqual([]);
  });

  it("keep the list of files still to fix honest: each one still names it", () => {
    const naming = new Set(trackedFilesNaming(OUTSIDE_DESIGN_DOC));
    expect([...PENDING].filter((file) => !naming.has(file))).toEqual([]);
  });
});

describe("the test folders' READMEs", () => {
  it.each(["test/workers", "test/system"])("%s/README.md has a row for each of its files, and for no file it lacks", (folder) => {
    const readme = readFileSync(`${root}${folder}/README.md`, "utf8");
    const files = readdirSync(`${root}${folder}`).filter((f) => f.endsWith(".ts"));
    const rows = [...readme.matchAll(/^\| \[([\w.-]+\.ts)\]\(\1\)/gm)].map((m) => m[1]);
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((f) => !rows.includes(f))).toEqual([]);
    expect(rows.filter((f) => !files.includes(f))).toEqual([]);
  });
});
