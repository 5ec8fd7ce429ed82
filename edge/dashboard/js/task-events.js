// One line of a task's event stream, as its page lists it.

export function eventText(e) {
  const time = new Date(e.at).toLocaleTimeString();
  switch (e.type) {
    case "status":
      return `${time} status ${e.status} (attempt ${e.attempt})${e.error ? ` ${e.error.code}: ${e.error.message}` : ""}`;
    case "progress":
      return `${time} progress ${e.percent ?? ""}${e.percent !== undefined ? "%" : ""} ${[e.step, e.message].filter(Boolean).join(": ")}`;
    case "log":
      return `${time} ${e.lines.length} log line${e.lines.length === 1 ? "" : "s"}`;
    case "result":
      return `${time} result`;
    case "artifact":
      return `${time} artifact ${e.artifact.name} (${e.artifact.size} bytes)`;
    case "lock":
      return e.state === "held"
        ? `${time} lock: holds org ${e.org}`
        : `${time} lock: waiting for org ${e.org}, position ${e.position}${e.holder ? `, held by ${e.holder}` : ""}`;
    case "approval":
      return `${time} approval ${e.decision}${e.by ? ` by ${e.by}` : ""}${e.expiresAt && e.decision === "required" ? ` (until ${new Date(e.expiresAt).toLocaleString()})` : ""}`;
    case "checkpoint":
      return `${time} checkpoint (attempt ${e.attempt})`;
    default:
      return `${time} ${e.type}`;
  }
}
