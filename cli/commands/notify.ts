// `sfp-edge notify …`: the project's notification endpoints (outbound Standard Webhooks), their
// delivery log and redelivery. The signing secret is printed once, when the edge makes it.
import type { NotificationDelivery, NotificationEndpoint, NotificationEndpointAnswer } from "../../protocol/notify.ts";
import { connect, projectPath } from "../connect.ts";
import { EXIT, line, parse, printJson, UsageError, type Globals, type Io } from "../io.ts";
import { integer } from "./task-template.ts";

export const NOTIFY_USAGE = {
  put: "sfp-edge notify put <name> --url <https://…> --events task.failed,task.succeeded|task.*|* [--disabled] [--rotate-secret]",
  list: "sfp-edge notify list",
  deliveries: "sfp-edge notify deliveries <name> [--limit <n>]",
  redeliver: "sfp-edge notify redeliver <name> <delivery id>",
} as const;

const endpointPath = (name: string) => `/notification-endpoints/${encodeURIComponent(name)}`;

/** The PUT body from the command line (exported for its unit test). */
export function putBody(argv: string[]): { name: string; body: { url: string; events: string[]; enabled: boolean }; rotate: boolean } {
  const { values, positionals } = parse(
    argv,
    { url: { type: "string" }, events: { type: "string" }, disabled: { type: "boolean" }, "rotate-secret": { type: "boolean" } },
    NOTIFY_USAGE.put,
  );
  if (positionals.length !== 1) throw new UsageError("expected one endpoint name", NOTIFY_USAGE.put);
  if (!values.url) throw new UsageError("--url is required", NOTIFY_USAGE.put);
  const events = (values.events ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  if (!events.length) throw new UsageError("--events is required (comma separated)", NOTIFY_USAGE.put);
  return { name: positionals[0], body: { url: values.url, events, enabled: !values.disabled }, rotate: values["rotate-secret"] === true };
}

function describeEndpoint(e: NotificationEndpoint): string {
  const state = e.enabled ? "enabled" : `disabled${e.disabledReason ? ` (${e.disabledReason})` : ""}`;
  return `${e.name}  ${e.url}  ${e.events.join(",")}  ${state}`;
}

export async function notifyPut(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { name, body, rotate } = putBody(argv);
  const s = await connect(io, globals);
  let { body: answer } = await s.client.request<NotificationEndpointAnswer>("PUT", projectPath(s, endpointPath(name)), { body });
  if (rotate) answer = (await s.client.request<NotificationEndpointAnswer>("POST", projectPath(s, `${endpointPath(name)}/rotate-secret`))).body;
  if (globals.json) printJson(io, answer);
  else {
    line(io, describeEndpoint(answer.endpoint));
    if (answer.secret) line(io, `signing secret (shown once; verify deliveries with it): ${answer.secret}`);
  }
  return EXIT.ok;
}

export async function notifyList(io: Io, globals: Globals, argv: string[]): Promise<number> {
  parse(argv, {}, NOTIFY_USAGE.list);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ endpoints: NotificationEndpoint[] }>("GET", projectPath(s, "/notification-endpoints"));
  if (globals.json) printJson(io, body);
  else if (!body.endpoints.length) line(io, "no notification endpoints");
  else for (const e of body.endpoints) line(io, describeEndpoint(e));
  return EXIT.ok;
}

export async function notifyDeliveries(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { limit: { type: "string" } }, NOTIFY_USAGE.deliveries);
  if (positionals.length !== 1) throw new UsageError("expected one endpoint name", NOTIFY_USAGE.deliveries);
  const limit = values.limit === undefined ? 50 : integer(values.limit, "--limit", NOTIFY_USAGE.deliveries);
  const s = await connect(io, globals);
  const { body } = await s.client.request<{ deliveries: NotificationDelivery[] }>(
    "GET",
    projectPath(s, `${endpointPath(positionals[0])}/deliveries?limit=${limit}`),
  );
  if (globals.json) printJson(io, body);
  else if (!body.deliveries.length) line(io, "no deliveries");
  else
    for (const d of body.deliveries)
      line(
        io,
        `${d.id}  ${d.event}  ${d.status}  attempts=${d.attempts}  last=${d.lastResponseCode ?? "-"} ${d.lastAttemptAt ?? ""}${d.nextAttemptAt ? `  next=${d.nextAttemptAt}` : ""}`,
      );
  return EXIT.ok;
}

export async function notifyRedeliver(io: Io, globals: Globals, argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, NOTIFY_USAGE.redeliver);
  if (positionals.length !== 2) throw new UsageError("expected an endpoint name and a delivery id", NOTIFY_USAGE.redeliver);
  const s = await connect(io, globals);
  const path = `${endpointPath(positionals[0])}/deliveries/${encodeURIComponent(positionals[1])}/redeliver`;
  const { body } = await s.client.request<{ delivery: NotificationDelivery }>("POST", projectPath(s, path));
  if (globals.json) printJson(io, body);
  else line(io, `redelivering ${body.delivery.id} (${body.delivery.event})`);
  return EXIT.ok;
}
