import type { WebhookKind } from "../../protocol/webhook.ts";
import { github } from "./github.ts";
import { gitlab } from "./gitlab.ts";
import { salesforce } from "./salesforce.ts";
import { salesforceEvent } from "./salesforce-event.ts";
import { standard } from "./standard.ts";
import type { KindHandler } from "./verify.ts";

export const KINDS: Record<WebhookKind, KindHandler> = { github, gitlab, standard, salesforce, "salesforce-event": salesforceEvent };
