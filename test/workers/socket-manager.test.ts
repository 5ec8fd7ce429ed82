// The hibernating-socket manager (actors/socket-manager.ts) as a task's watchers meet it: refusals in
// the contract's error shape carrying the edge's request id, and the close handshake.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FORWARD_PROJECT_HEADER, FORWARD_REQUEST_ID_HEADER } from "../../actors/sockets.ts";
import { BASE, createTask, openSocket, setup } from "./helpers.ts";

describe("task socket refusals and close", () => {
  it("answers another project's upgrade with 404 in the contract's error shape and the answer's request id", async () => {
    const { project, owner } = await setup("mine");
    const other = await setup("theirs");
    const t = await createTask(project, owner);
    const res = await SELF.fetch(`${BASE}/v1/tasks/${t.id}/ws`, { headers: { upgrade: "websocket", authorization: `Bearer ${other.owner}` } });
    expect(res.status).toBe(404);
    const requestId = res.headers.get("x-request-id");
    expect(requestId).toBeTruthy();
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "no such task", requestId } });
  });

  it("answers a forwarded request that is no upgrade with 426 in the contract's error shape", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const stub = env.TASK.get(env.TASK.idFromName(t.id));
    const res = await stub.fetch(`${BASE}/v1/tasks/${t.id}/ws`, { headers: { [FORWARD_PROJECT_HEADER]: project, [FORWARD_REQUEST_ID_HEADER]: "req_test" } });
    expect(res.status).toBe(426);
    expect(await res.json()).toEqual({ error: { code: "invalid_request", message: expect.stringContaining("WebSocket upgrade"), requestId: "req_test" } });
  });

  it("answers a client's Close frame with the same code, completing the handshake", async () => {
    const { project, owner } = await setup();
    const t = await createTask(project, owner);
    const s = (await openSocket(`/v1/tasks/${t.id}/ws`, owner)).socket!;
    await s.until((m) => m.length >= 2);
    s.ws.close(4001, "done watching");
    await s.until(() => s.closed !== null);
    expect(s.closed?.code).toBe(4001);
  });
});
