// Senders for the webhook tests: they sign deliveries the way GitHub, GitLab, Standard Webhooks
// senders and Salesforce do, and post them to the Worker as those senders would.
import { SELF } from "cloudflare:test";
import type { Task, TaskSummary } from "../../protocol/index.ts";
import type { WebhookSource } from "../../protocol/webhook.ts";
import { api, BASE, ingestSettled } from "./helpers.ts";

export const GITHUB_SECRET = "gh-webhook-secret-0123456789";
export const GITLAB_SECRET = "gl-webhook-token-0123456789";
// whsec_ + base64 of 32 bytes, as a Standard Webhooks sender shows it.
export const STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const ORG_ID = "00D5g000004Xy7BEAS";

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function b64(bytes: ArrayBuffer | Uint8Array): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, data);
}

export async function githubSignature(body: string | Uint8Array, secret = GITHUB_SECRET): Promise<string> {
  return `sha256=${hex(await hmac(encoder.encode(secret), typeof body === "string" ? encoder.encode(body) : body))}`;
}

export async function standardSignature(id: string, timestamp: string, body: string, secret = STANDARD_SECRET): Promise<string> {
  const key = Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0));
  return `v1,${b64(await hmac(key, encoder.encode(`${id}.${timestamp}.${body}`)))}`;
}

export function nowSeconds(offset = 0): string {
  return String(Math.floor(Date.now() / 1000) + offset);
}

export interface Delivered {
  status: number;
  json: { deliveryId?: string; tasks?: string[]; duplicate?: boolean; error?: { code: string; message: string; requestId: string; field?: string } };
  text: string;
  headers: Headers;
}

let ipCounter = 0;

/** Posts a delivery from a fresh client address (unless one is pinned), as a sender would. */
export async function deliver(sourceId: string, body: BodyInit | null, headers: Record<string, string>, opts: { ip?: string } = {}): Promise<Delivered> {
  ipCounter++;
  const ip = opts.ip ?? `172.${(ipCounter >> 8) & 255}.${ipCounter & 255}.${Math.floor(Math.random() * 250)}`;
  const res = await SELF.fetch(`${BASE}/v1/hooks/${sourceId}`, { method: "POST", body, headers: { "cf-connecting-ip": ip, ...headers } });
  const text = await res.text();
  let json: Delivered["json"] = {};
  if ((res.headers.get("content-type") ?? "").includes("json") && text) json = JSON.parse(text);
  return { status: res.status, json, text, headers: res.headers };
}

export async function putSource(project: string, owner: string, name: string, body: Record<string, unknown>): Promise<WebhookSource> {
  const res = await api("PUT", `/v1/projects/${project}/webhook-sources/${name}`, { token: owner, body });
  if (res.status !== 200) throw new Error(`source put: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.source;
}

export async function getTask(id: string, token: string): Promise<{ status: number; task?: Task }> {
  const res = await api("GET", `/v1/tasks/${id}`, { token });
  return { status: res.status, task: res.body?.task };
}

export async function listTasks(project: string, token: string): Promise<TaskSummary[]> {
  await ingestSettled();
  const res = await api("GET", `/v1/projects/${project}/tasks?limit=200`, { token });
  if (res.status !== 200) throw new Error(`list: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.tasks;
}
