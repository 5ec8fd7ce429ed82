// Platform Event subscriptions (issue 15): what the owner configured, and the one lease per
// subscription that makes a single runner of the org's pool its subscriber. A lease not renewed
// within its period lapses, and the next runner of the pool to ask takes it with a higher epoch and
// the replay id the last holder reported, so events resume where forwarding stopped.
import { rpcError } from "../protocol/index.ts";
import type { EventSubscription, PutEventSubscriptionBody, SubscriptionLease, SubscriptionLeaseBody } from "../protocol/events.ts";
import { nowIso } from "./sql.ts";

type SubscriptionRow = {
  name: string;
  org: string;
  channel: string;
  source: string;
  enabled: number;
  replay_id: number | null;
  holder: string | null;
  epoch: number;
  expires_at: number | null;
  created_at: string;
  updated_at: string;
};

export class ProjectSubscriptions {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Creates or replaces; a new org or channel starts over (no replay id, no holder). */
  put(name: string, body: PutEventSubscriptionBody): EventSubscription {
    const clash = this.rows("WHERE org = ? AND channel = ? AND name != ?", body.org, body.channel, name)[0];
    if (clash) throw rpcError("conflict", `subscription "${clash.name}" already listens to ${body.channel} of ${body.org}`);
    const old = this.row(name);
    const same = old && old.org === body.org && old.channel === body.channel;
    const at = nowIso();
    this.sql.exec(
      `INSERT INTO sfp_event_subscriptions (name, org, channel, source, enabled, replay_id, holder, epoch, expires_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET org = excluded.org, channel = excluded.channel, source = excluded.source, enabled = excluded.enabled,
       replay_id = excluded.replay_id, holder = excluded.holder, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
      name,
      body.org,
      body.channel,
      body.source,
      body.enabled ? 1 : 0,
      same ? old.replay_id : null,
      // A disabled or re-pointed subscription's lease ends: its holder finds it missing on renewal.
      same && body.enabled ? old.holder : null,
      old?.epoch ?? 0,
      same && body.enabled ? old.expires_at : null,
      old?.created_at ?? at,
      at,
    );
    return this.get(name);
  }

  get(name: string, now = Date.now()): EventSubscription {
    const row = this.row(name);
    if (!row) throw rpcError("not_found", "no such event subscription");
    return fromRow(row, now);
  }

  list(now = Date.now()): EventSubscription[] {
    return this.rows("ORDER BY name").map((r) => fromRow(r, now));
  }

  delete(name: string): void {
    if (!this.row(name)) throw rpcError("not_found", "no such event subscription");
    this.sql.exec("DELETE FROM sfp_event_subscriptions WHERE name = ?", name);
  }

  /** Subscriptions naming this source (a source in use is not deleted). */
  usingSource(source: string): string[] {
    return this.rows("WHERE source = ?", source).map((r) => r.name);
  }

  /**
   * A runner's ask: renews each lease it still holds (keeping the replay id it reports, never going
   * back), then grants it every enabled subscription of its pool that nobody holds live. Answers all
   * the leases it holds now.
   */
  lease(runnerId: string, orgPool: (org: string) => string | undefined, runnerPool: string, body: SubscriptionLeaseBody, leaseMs: number, now = Date.now()) {
    const expires = now + leaseMs;
    for (const held of body.held) {
      const row = this.row(held.name);
      if (!row || row.holder !== runnerId || row.epoch !== held.leaseEpoch || !row.enabled) continue;
      // Lapsed but untaken: the holder may keep it (nobody else subscribed meanwhile).
      this.sql.exec("UPDATE sfp_event_subscriptions SET expires_at = ? WHERE name = ?", expires, row.name);
      if (held.replayId !== undefined) this.advance(row.name, held.replayId);
    }
    for (const row of this.rows("WHERE enabled = 1 AND (holder IS NULL OR expires_at IS NULL OR expires_at <= ?) ORDER BY name", now)) {
      if (orgPool(row.org) !== runnerPool) continue;
      this.sql.exec("UPDATE sfp_event_subscriptions SET holder = ?, epoch = epoch + 1, expires_at = ? WHERE name = ?", runnerId, expires, row.name);
    }
    return this.rows("WHERE holder = ? AND enabled = 1 AND expires_at > ? ORDER BY name", runnerId, now).map((r) => leaseOf(r));
  }

  /** The subscription a holder's delivery is for; 409 stale_lease when `epoch` is not its live holder's. */
  held(name: string, runnerId: string, epoch: number): EventSubscription {
    const row = this.row(name);
    if (!row) throw rpcError("not_found", "no such event subscription");
    if (row.holder !== runnerId || row.epoch !== epoch || !row.enabled) throw rpcError("stale_lease", "this runner does not hold that subscription's lease");
    return fromRow(row, Date.now());
  }

  /** Records the last event forwarded; a smaller id (an overlap re-sent) never moves it back. */
  advance(name: string, replayId: number): void {
    this.sql.exec("UPDATE sfp_event_subscriptions SET replay_id = ? WHERE name = ? AND (replay_id IS NULL OR replay_id < ?)", replayId, name, replayId);
  }

  /** A revoked runner's leases end now, so another runner takes them on its next ask. */
  dropRunner(runnerId: string): void {
    this.sql.exec("UPDATE sfp_event_subscriptions SET holder = NULL, expires_at = NULL WHERE holder = ?", runnerId);
  }

  private row(name: string): SubscriptionRow | undefined {
    return this.rows("WHERE name = ?", name)[0];
  }

  private rows(clause: string, ...args: (string | number)[]): SubscriptionRow[] {
    return this.sql.exec<SubscriptionRow>(`SELECT * FROM sfp_event_subscriptions ${clause}`, ...args).toArray();
  }
}

function leaseOf(r: SubscriptionRow): SubscriptionLease {
  return { name: r.name, org: r.org, channel: r.channel, leaseEpoch: r.epoch, replayId: r.replay_id, expiresAt: nowIso(r.expires_at ?? 0) };
}

function fromRow(r: SubscriptionRow, now: number): EventSubscription {
  const live = r.holder !== null && r.expires_at !== null && r.expires_at > now;
  return {
    name: r.name,
    org: r.org,
    channel: r.channel,
    source: r.source,
    enabled: r.enabled === 1,
    replayId: r.replay_id,
    holder: live && r.holder !== null ? { runnerId: r.holder, leaseEpoch: r.epoch, expiresAt: nowIso(r.expires_at ?? 0) } : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
