// Small clients for the workerd tests: they speak to the Worker exactly as an outside client would.
import { SELF } from "cloudflare:test";
import type { Role, Task } from "../../protocol/index.ts";

export const ADMIN_TOKEN = "test-admin-token";
export const BASE = "https://edge.test";

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = any>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: BodyInit } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  const res = await SELF.fetch(BASE + path, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text) body = JSON.parse(text);
  return { status: res.status, body: body as T, headers: res.headers };
}

export async function newProject(name = "acme"): Promise<{ project: string; owner: string }> {
  const res = await api("POST", "/v1/projects", { token: ADMIN_TOKEN, body: { name } });
  if (res.status !== 201) throw new Error(`project create: ${res.status} ${JSON.stringify(res.body)}`);
  return { project: res.body.project.id, owner: res.body.ownerToken };
}

export async function newToken(project: string, owner: string, role: Role): Promise<{ id: string; token: string }> {
  const res = await api("POST", `/v1/projects/${project}/tokens`, { token: owner, body: { name: `${role}-token`, role } });
  if (res.status !== 201) throw new Error(`token create: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, token: res.body.token };
}

export async function putOrg(project: string, owner: string, alias = "demo", body: Record<string, unknown> = {}) {
  const res = await api("PUT", `/v1/projects/${project}/orgs/${alias}`, { token: owner, body });
  if (res.status !== 200) throw new Error(`org put: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.org;
}

/** A project with an owner token and a registered `demo` org. */
export async function setup(name = "acme") {
  const p = await newProject(name);
  await putOrg(p.project, p.owner);
  return p;
}

export async function createTask(project: string, token: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Task> {
  const res = await api("POST", `/v1/projects/${project}/tasks`, { token, body: { type: "deploy", org: "demo", ...body }, headers });
  if (res.status !== 201) throw new Error(`task create: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task;
}
