// Structured logs: one JSON object a line, on stdout. The manager holds tokens (registration, runner,
// job, origin) that must never be written: fields whose name says "token/secret/…" are redacted, and
// every token the manager learns is registered so that it is masked wherever it appears in a string.

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|secret|password|passwd|authorization|credential|cookie|^key$|private/i;
const REDACTED = "[redacted]";
const MASK = "***";
/** Shorter values would mask ordinary words. */
const MIN_SECRET_LENGTH = 6;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` (for example `{taskId}`) to every line. */
  child(fields: LogFields): Logger;
  /** Masks `secret` in every later line of this logger and of its children. */
  addSecret(secret: string | undefined): void;
}

interface Sink {
  level: number;
  write: (line: string) => void;
  secrets: Set<string>;
}

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void; base?: LogFields } = {}): Logger {
  const sink: Sink = {
    level: LEVELS[opts.level ?? "info"],
    write: opts.write ?? ((line) => process.stdout.write(`${line}\n`)),
    secrets: new Set(),
  };
  return makeLogger(sink, opts.base ?? {});
}

function makeLogger(sink: Sink, base: LogFields): Logger {
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[level] < sink.level) return;
    const record = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    sink.write(mask(JSON.stringify(record, redact), sink.secrets));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => makeLogger(sink, { ...base, ...fields }),
    addSecret: (secret) => {
      if (secret && secret.length >= MIN_SECRET_LENGTH) sink.secrets.add(secret);
    },
  };
}

function redact(key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (key && SECRET_FIELD.test(key) && (typeof value === "string" || typeof value === "object") && value !== null) {
    return REDACTED;
  }
  return value;
}

function mask(line: string, secrets: Set<string>): string {
  let out = line;
  for (const secret of secrets) {
    // A secret inside JSON text may appear escaped; mask both spellings.
    const escaped = JSON.stringify(secret).slice(1, -1);
    out = out.split(secret).join(MASK);
    if (escaped !== secret) out = out.split(escaped).join(MASK);
  }
  return out;
}
