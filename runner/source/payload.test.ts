import { describe, expect, it } from "vitest";
import { DeployPayload, ValidatePayload } from "../../protocol/payloads.ts";

const SHA = "3f7a2c9e1b4d5a6f708192a3b4c5d6e7f8091a2b";
const REPO = "https://git.example.com/acme/crm.git";

/** The first issue's path and message, as the worker reports an invalid payload. */
function problem(payload: unknown): string {
  const parsed = DeployPayload.safeParse(payload);
  if (parsed.success) return "valid";
  const issue = parsed.error.issues[0];
  return `${issue.path.join(".")}: ${issue.message}`;
}

describe("the source payload of deploy and validate (protocol/payloads.ts)", () => {
  it.each([
    ["a sha", { source: { repo: REPO, ref: SHA } }],
    ["a branch", { source: { repo: REPO, ref: "main" } }],
    ["a nested branch", { source: { repo: REPO, ref: "feature/INV-42_status" } }],
    ["a tag", { source: { repo: REPO, ref: "v1.4.0" } }],
    ["a full ref name", { source: { repo: REPO, ref: "refs/heads/release/2025.1" } }],
    ["package directories and a delta", { source: { repo: REPO, ref: "main", packageDirectories: ["force-app", "common/main"], delta: { from: SHA } } }],
    ["deploy options beside it", { source: { repo: REPO, ref: SHA }, testLevel: "RunSpecifiedTests", runTests: ["InvoiceServiceTest"], ignoreWarnings: true }],
    ["loopback http (the runner decides whether it may)", { source: { repo: "http://127.0.0.1:9418/acme/crm.git", ref: SHA } }],
  ])("accepts %s", (_, payload) => {
    expect(problem(payload)).toBe("valid");
    expect(ValidatePayload.safeParse(payload).success).toBe(true);
  });

  it("still accepts the zip forms", () => {
    expect(problem({ zipBase64: "UEsDBA==" })).toBe("valid");
    expect(problem({ zipUrl: "https://ci.example.com/build.zip" })).toBe("valid");
  });

  it.each([
    ["no source of any kind", {}, "zipBase64: give exactly one of zipBase64, zipUrl or source"],
    ["source and a zip", { zipBase64: "UEsDBA==", source: { repo: REPO, ref: SHA } }, "zipBase64: give exactly one of zipBase64, zipUrl or source"],
    ["source and a zip URL", { zipUrl: "https://ci.example.com/b.zip", source: { repo: REPO, ref: SHA } }, "zipBase64: give exactly one"],
    ["no ref", { source: { repo: REPO } }, "source.ref:"],
    ["an unknown field", { source: { repo: REPO, ref: SHA, branch: "main" } }, "source: Unrecognized key"],
    [
      "credentials in the URL",
      { source: { repo: "https://x-access-token:ghp_abc@git.example.com/acme/crm.git", ref: SHA } },
      "source.repo: a repository URL without credentials",
    ],
    ["a query in the URL", { source: { repo: `${REPO}?token=abc`, ref: SHA } }, "source.repo: a repository URL without credentials, query or fragment"],
    ["an ssh URL", { source: { repo: "ssh://git@git.example.com/acme/crm.git", ref: SHA } }, "source.repo: an https URL"],
    ["an scp-like address", { source: { repo: "git@git.example.com:acme/crm.git", ref: SHA } }, "source.repo:"],
    ["a ref that is an option", { source: { repo: REPO, ref: "--upload-pack=touch /tmp/x" } }, "source.ref: a 40-hex commit sha, or a branch or tag name"],
    ["a ref with ..", { source: { repo: REPO, ref: "main..evil" } }, "source.ref: a 40-hex commit sha"],
    ["a refspec", { source: { repo: REPO, ref: "main:refs/heads/x" } }, "source.ref: a 40-hex commit sha"],
    ["a ref ending in .lock", { source: { repo: REPO, ref: "main.lock" } }, "source.ref: a 40-hex commit sha"],
    ["a ref with //", { source: { repo: REPO, ref: "feature//x" } }, "source.ref: a 40-hex commit sha"],
    ["an empty ref", { source: { repo: REPO, ref: "" } }, "source.ref:"],
    ["a delta from a branch", { source: { repo: REPO, ref: "main", delta: { from: "main~1" } } }, "source.delta.from: a full 40-hex commit sha"],
    ["a short sha as the delta base", { source: { repo: REPO, ref: "main", delta: { from: "3f7a2c9" } } }, "source.delta.from: a full 40-hex commit sha"],
    [
      "a package directory outside the repository",
      { source: { repo: REPO, ref: SHA, packageDirectories: ["../secrets"] } },
      "source.packageDirectories.0: a folder relative",
    ],
    ["an absolute package directory", { source: { repo: REPO, ref: SHA, packageDirectories: ["/etc"] } }, "source.packageDirectories.0: a folder relative"],
    ["an empty list of package directories", { source: { repo: REPO, ref: SHA, packageDirectories: [] } }, "source.packageDirectories:"],
  ])("refuses %s with a clear message", (_, payload, expected) => {
    expect(problem(payload)).toContain(expected);
  });
});
