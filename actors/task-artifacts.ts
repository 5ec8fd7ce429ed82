// A task's artifacts (docs/API.md "Artifacts"): the record of what its job stored in the R2 bucket.
// The bytes go straight from the edge to R2; this keeps the names, sizes, hashes and object keys,
// reserves room for uploads under way so the per-task limit holds under concurrent uploads, and
// records an upload only once its object is complete — a broken upload is never listed.
import { DEFAULT_ARTIFACT_MAX_BYTES, DEFAULT_ARTIFACT_TASK_MAX_BYTES, MAX_ARTIFACTS_PER_TASK, rpcError, type Artifact, type Task } from "../protocol/index.ts";
import type { Env } from "./env.ts";
import { nowIso } from "./sql.ts";

export const ARTIFACTS_TABLE = `CREATE TABLE sfp_artifacts (name TEXT PRIMARY KEY, r2_key TEXT NOT NULL, size INTEGER NOT NULL,
       sha256 TEXT NOT NULL, content_type TEXT NOT NULL, stored_at TEXT NOT NULL)`;

/** A reservation whose upload never settled (its edge went away) stops counting after this. */
const PENDING_TTL_MS = 60 * 60_000;

export interface ArtifactLimits {
  perArtifact: number;
  perTask: number;
  count: number;
}

/** The limits of this deployment: Worker variables over the contract's defaults. */
export function artifactLimits(env: Pick<Env, "ARTIFACT_MAX_BYTES" | "ARTIFACT_TASK_MAX_BYTES">): ArtifactLimits {
  const positive = (value: string | undefined, fallback: number) => {
    const n = Number(value);
    return value !== undefined && Number.isSafeInteger(n) && n > 0 ? n : fallback;
  };
  return {
    perArtifact: positive(env.ARTIFACT_MAX_BYTES, DEFAULT_ARTIFACT_MAX_BYTES),
    perTask: positive(env.ARTIFACT_TASK_MAX_BYTES, DEFAULT_ARTIFACT_TASK_MAX_BYTES),
    count: MAX_ARTIFACTS_PER_TASK,
  };
}

/** An upload the edge streams into R2: its object key (per project and task) and what it declared. */
export interface ArtifactUpload {
  uploadId: string;
  key: string;
  name: string;
  size: number;
  contentType: string;
}

/** A stored artifact and where its bytes are. */
export interface StoredArtifact {
  artifact: Artifact;
  key: string;
}

/** What a recorded upload changed: whether the name is new, and the object a replaced one left behind. */
export interface ArtifactRecorded {
  artifact: Artifact;
  created: boolean;
  replacedKey?: string;
}

/** The R2 keys of one task's artifacts start here: one project can never name another's object. */
export function artifactPrefix(project: string, taskId: string): string {
  return `${project}/${taskId}/`;
}

type Row = { name: string; r2_key: string; size: number; sha256: string; content_type: string; stored_at: string };

export class TaskArtifacts {
  private readonly sql: SqlStorage;
  private readonly limits: () => ArtifactLimits;
  /** Uploads under way, by upload id; in memory, so an actor reset forgets them (commit re-checks). */
  private readonly pending = new Map<string, { upload: ArtifactUpload; at: number }>();

  constructor(sql: SqlStorage, limits: () => ArtifactLimits) {
    this.sql = sql;
    this.limits = limits;
  }

  /** Reserves room for an upload of `size` bytes under `name`, or refuses it (413) before a byte is read. */
  begin(task: Task, name: string, size: number, contentType: string): ArtifactUpload {
    const now = Date.now();
    for (const [id, p] of this.pending) if (now - p.at > PENDING_TTL_MS) this.pending.delete(id);
    const reserved = [...this.pending.values()].map((p) => p.upload);
    this.check(name, size, reserved);
    const uploadId = crypto.randomUUID();
    const upload: ArtifactUpload = { uploadId, key: `${artifactPrefix(task.project, task.id)}${name}/${uploadId}`, name, size, contentType };
    this.pending.set(uploadId, { upload, at: now });
    return upload;
  }

  /** The upload ended (stored or not): its reservation is released. */
  settle(uploadId: string): void {
    this.pending.delete(uploadId);
  }

  /**
   * Records a complete upload (synchronously, so it joins the commit of its event). The limits are
   * checked again: reservations do not survive an actor reset, so this is where the limit holds.
   */
  record(task: Task, upload: ArtifactUpload, sha256: string): ArtifactRecorded {
    if (!upload.key.startsWith(artifactPrefix(task.project, task.id))) throw rpcError("internal", "an artifact key outside its task");
    this.check(upload.name, upload.size, []);
    const previous = this.row(upload.name);
    const artifact: Artifact = { name: upload.name, size: upload.size, sha256, contentType: upload.contentType, storedAt: nowIso() };
    this.sql.exec(
      `INSERT INTO sfp_artifacts (name, r2_key, size, sha256, content_type, stored_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET r2_key = excluded.r2_key, size = excluded.size, sha256 = excluded.sha256,
       content_type = excluded.content_type, stored_at = excluded.stored_at`,
      artifact.name,
      upload.key,
      artifact.size,
      artifact.sha256,
      artifact.contentType,
      artifact.storedAt,
    );
    return { artifact, created: !previous, ...(previous && previous.r2_key !== upload.key ? { replacedKey: previous.r2_key } : {}) };
  }

  /** Every stored artifact, by name. */
  list(): Artifact[] {
    return this.sql
      .exec<Row>("SELECT * FROM sfp_artifacts ORDER BY name")
      .toArray()
      .map((r) => toArtifact(r));
  }

  find(name: string): StoredArtifact | undefined {
    const row = this.row(name);
    return row ? { artifact: toArtifact(row), key: row.r2_key } : undefined;
  }

  /** 413 when `size` more bytes under `name` (replacing what is stored under it) would pass a limit. */
  private check(name: string, size: number, reserved: ArtifactUpload[]): void {
    const limits = this.limits();
    if (size > limits.perArtifact) throw rpcError("too_large", `an artifact is limited to ${limits.perArtifact} bytes; this one declares ${size}`);
    const others = this.list().filter((a) => a.name !== name);
    const names = new Set([...others.map((a) => a.name), ...reserved.map((u) => u.name), name]);
    if (names.size > limits.count) throw rpcError("too_large", `a task holds at most ${limits.count} artifacts`);
    const total = size + others.reduce((n, a) => n + a.size, 0) + reserved.reduce((n, u) => n + u.size, 0);
    if (total > limits.perTask) throw rpcError("too_large", `a task's artifacts are limited to ${limits.perTask} bytes together`);
  }

  private row(name: string): Row | undefined {
    return this.sql.exec<Row>("SELECT * FROM sfp_artifacts WHERE name = ?", name).toArray()[0];
  }
}

function toArtifact(r: Row): Artifact {
  return { name: r.name, size: r.size, sha256: r.sha256, contentType: r.content_type, storedAt: r.stored_at };
}
