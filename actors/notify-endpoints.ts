// A project's notification endpoints (issue 14): where Standard Webhooks deliveries go, which events
// each wants, and its signing secret — sealed at rest (common/secret-box.ts), shown once when made.
// After a rotation the previous secret keeps signing, next to the new one, for 24 hours.
import { checkEndpointUrl } from "../common/endpoint-url.ts";
import { b64url } from "../common/tokens.ts";
import { open, seal } from "../common/secret-box.ts";
import { rpcError } from "../protocol/index.ts";
import { subscribes, type NotificationEndpoint, type NotificationEndpointAnswer, type PutNotificationEndpointBody } from "../protocol/notify.ts";
import { nowIso } from "./sql.ts";

/** How long a rotated-out secret keeps signing next to its successor. */
export const PREVIOUS_SECRET_MS = 24 * 3600_000;

export type EndpointRow = {
  name: string;
  url: string;
  events: string;
  enabled: number;
  disabled_reason: string | null;
  secret: string;
  previous_secret: string | null;
  previous_until: number | null;
  secret_rotated_at: string | null;
  last_success_at: number | null;
  origin: string | null;
  created_at: string;
  updated_at: string;
};

export interface EndpointSettings {
  project: () => string;
  boxSecret: string;
  allowLoopback: () => boolean;
}

/** Standard Webhooks secrets: `whsec_` + base64 of 24 random bytes. */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

export class NotifyEndpoints {
  private readonly sql: SqlStorage;
  private readonly settings: EndpointSettings;

  constructor(sql: SqlStorage, settings: EndpointSettings) {
    this.sql = sql;
    this.settings = settings;
  }

  /** The URL as the edge may send to it, or a 400 naming `url`. */
  checkUrl(url: string, field = "url"): void {
    const verdict = checkEndpointUrl(url, this.settings.allowLoopback());
    if (!verdict.ok) throw rpcError("invalid_request", `${field}: refused: ${verdict.reason}`);
  }

  /** Creates (with a new secret, answered once) or updates the endpoint; `enabled: true` clears a disable. */
  async put(name: string, body: PutNotificationEndpointBody, origin: string): Promise<NotificationEndpointAnswer> {
    this.checkUrl(body.url);
    const old = this.row(name);
    const at = nowIso();
    const enabled = body.enabled ?? true;
    if (old) {
      this.sql.exec(
        "UPDATE sfp_notify_endpoints SET url = ?, events = ?, enabled = ?, disabled_reason = ?, origin = ?, updated_at = ? WHERE name = ?",
        body.url,
        JSON.stringify(body.events),
        enabled ? 1 : 0,
        enabled ? null : old.disabled_reason,
        origin,
        at,
        name,
      );
      return { endpoint: this.get(name) };
    }
    const secret = newSecret();
    this.sql.exec(
      `INSERT INTO sfp_notify_endpoints (name, url, events, enabled, secret, origin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      name,
      body.url,
      JSON.stringify(body.events),
      enabled ? 1 : 0,
      await seal(this.settings.boxSecret, this.context(name), secret),
      origin,
      at,
      at,
    );
    return { endpoint: this.get(name), secret };
  }

  /** A new secret (answered once); the old one signs too for PREVIOUS_SECRET_MS. */
  async rotate(name: string, now = Date.now()): Promise<NotificationEndpointAnswer> {
    const old = this.mustRow(name);
    const secret = newSecret();
    this.sql.exec(
      "UPDATE sfp_notify_endpoints SET secret = ?, previous_secret = ?, previous_until = ?, secret_rotated_at = ?, updated_at = ? WHERE name = ?",
      await seal(this.settings.boxSecret, this.context(name), secret),
      old.secret,
      now + PREVIOUS_SECRET_MS,
      nowIso(now),
      nowIso(now),
      name,
    );
    return { endpoint: this.get(name), secret };
  }

  get(name: string): NotificationEndpoint {
    return endpointFromRow(this.mustRow(name));
  }

  list(): NotificationEndpoint[] {
    return this.sql.exec<EndpointRow>("SELECT * FROM sfp_notify_endpoints ORDER BY name").toArray().map(endpointFromRow);
  }

  delete(name: string): void {
    this.mustRow(name);
    this.sql.exec("DELETE FROM sfp_notify_endpoints WHERE name = ?", name);
    this.sql.exec("DELETE FROM sfp_notify_deliveries WHERE endpoint = ?", name);
  }

  row(name: string): EndpointRow | undefined {
    return this.sql.exec<EndpointRow>("SELECT * FROM sfp_notify_endpoints WHERE name = ?", name).toArray()[0];
  }

  mustRow(name: string): EndpointRow {
    const row = this.row(name);
    if (!row) throw rpcError("not_found", "no such notification endpoint");
    return row;
  }

  /** The enabled endpoints that want `event`. */
  subscribers(event: string): EndpointRow[] {
    return this.sql
      .exec<EndpointRow>("SELECT * FROM sfp_notify_endpoints WHERE enabled = 1 ORDER BY name")
      .toArray()
      .filter((r) => subscribes(JSON.parse(r.events), event));
  }

  /** The secrets that sign now: the current one, and the previous one within its 24 hours. */
  async signingSecrets(row: EndpointRow, now: number): Promise<string[]> {
    const sealed = [row.secret, ...(row.previous_secret && (row.previous_until ?? 0) > now ? [row.previous_secret] : [])];
    const secrets = await Promise.all(sealed.map((s) => open(this.settings.boxSecret, this.context(row.name), s)));
    return secrets.filter((s): s is string => s !== null);
  }

  disable(name: string, reason: string): void {
    this.sql.exec("UPDATE sfp_notify_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE name = ?", reason, nowIso(), name);
  }

  succeeded(name: string, now: number): void {
    this.sql.exec("UPDATE sfp_notify_endpoints SET last_success_at = ? WHERE name = ?", now, name);
  }

  private context(name: string): string {
    return `${this.settings.project()}/notification-endpoint/${name}/secret`;
  }
}

function endpointFromRow(r: EndpointRow): NotificationEndpoint {
  return {
    name: r.name,
    url: r.url,
    events: JSON.parse(r.events),
    enabled: r.enabled === 1,
    disabledReason: r.disabled_reason,
    secretRotatedAt: r.secret_rotated_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` per secret, space separated (Standard Webhooks). */
export async function standardSignature(secrets: readonly string[], id: string, timestamp: number, body: string): Promise<string> {
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  const parts = await Promise.all(
    secrets.map(async (secret) => {
      const raw = Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0));
      const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
      return `v1,${btoa(String.fromCharCode(...mac))}`;
    }),
  );
  return parts.join(" ");
}

/** A delivery id: `msg_` + 24 random base64url characters. */
export function newDeliveryId(): string {
  return `msg_${b64url(crypto.getRandomValues(new Uint8Array(18)))}`;
}
