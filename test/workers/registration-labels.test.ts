// Issue 11 "Registration labels": a runner's labels are its registration token's, never its own claim.
import { describe, expect, it } from "vitest";
import { api, createTask, setup } from "./helpers.ts";
import { poll, registerWith, registrationToken } from "./runner-helpers.ts";

async function runnerLabels(project: string, owner: string, runnerId: string): Promise<string[]> {
  const list = await api("GET", `/v1/projects/${project}/runners`, { token: owner });
  return list.body.runners.find((r: { id: string }) => r.id === runnerId).labels;
}

describe("registration labels", () => {
  it("refuses a runner that claims a label its registration token does not grant, without spending the token", async () => {
    const { project, owner } = await setup();
    const token = await registrationToken(project, owner, { labels: ["eu"] });
    const res = await registerWith(token, { labels: ["eu", "prod-deployer"] });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: "forbidden", field: "labels" });
    expect(res.body.error?.message).toContain("prod-deployer");
    // The refused claim spent no use: the same one-use token still registers an honest runner.
    const honest = await registerWith(token, { labels: ["eu"] });
    expect(honest.status).toBe(201);
    expect(await runnerLabels(project, owner, honest.body.runnerId)).toEqual(["eu"]);
  });

  it("gives a runner that claims nothing exactly the token's labels", async () => {
    const { project, owner } = await setup();
    const res = await registerWith(await registrationToken(project, owner, { labels: ["linux", "eu"] }), { labels: [] });
    expect(res.status).toBe(201);
    expect(await runnerLabels(project, owner, res.body.runnerId)).toEqual(["eu", "linux"]);
  });

  it("never offers a labelled task to a runner whose token lacks the label", async () => {
    const { project, owner } = await setup();
    await createTask(project, owner, { labels: ["prod-deployer"] });
    const claimed = await registerWith(await registrationToken(project, owner), { labels: ["prod-deployer"] });
    expect(claimed.status).toBe(403);
    const plain = await registerWith(await registrationToken(project, owner), { labels: [] });
    expect(plain.status).toBe(201);
    expect((await poll(plain.body.runnerToken)).status).toBe(204);
  });
});
