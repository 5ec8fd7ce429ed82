// Standard Webhooks (https://www.standardwebhooks.com, used by CI systems and Svix):
// `webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`, one
// or more space-separated (any valid one passes, which allows key rotation on the sender's side);
// the key is the base64 after `whsec_`; the timestamp must be within ±5 minutes (replay guard).
// Svix senders that predate the standard use `svix-id`/`svix-timestamp`/`svix-signature`: same scheme.
import { ApiError } from "../../protocol/errors.ts";
import { WEBHOOK_TOLERANCE_SECONDS } from "../../protocol/webhook.ts";
import { decodeUtf8, parseJsonObject } from "./body.ts";
import { badSignature, base64Bytes, concatBytes, deliveryIdHeader, hmacVerifyKey, utf8 } from "./verify.ts";
import type { KindHandler } from "./verify.ts";

// A sender rotating keys sends a few signatures; more than this is someone fishing.
const MAX_SIGNATURES = 8;

export const standard: KindHandler = {
  mediaTypes: ["application/json"],
  async prepare(source) {
    const raw = source.secret?.startsWith("whsec_") ? base64Bytes(source.secret.slice(6)) : undefined;
    if (!raw) throw new Error(`standard source "${source.name}" has no whsec_ key`);
    const key = await hmacVerifyKey(raw);
    return async (headers, body, nowMs) => {
      const prefix = headers.has("webhook-signature") || !headers.has("svix-signature") ? "webhook" : "svix";
      const header = headers.get(`${prefix}-signature`);
      if (header === null) throw badSignature("the webhook-signature header is missing");
      const id = deliveryIdHeader(headers, `${prefix}-id`);
      const timestamp = headers.get(`${prefix}-timestamp`)?.trim();
      if (!timestamp) throw new ApiError("invalid_request", `the ${prefix}-timestamp header is missing`, { field: `${prefix}-timestamp` });
      if (!/^\d{1,12}$/.test(timestamp)) throw new ApiError("invalid_request", `${prefix}-timestamp must be Unix seconds`, { field: `${prefix}-timestamp` });
      if (Math.abs(nowMs / 1000 - Number(timestamp)) > WEBHOOK_TOLERANCE_SECONDS)
        throw new ApiError("stale_timestamp", "webhook-timestamp is more than 5 minutes from now");

      const signed = concatBytes(utf8(`${id}.${timestamp}.`), body);
      const candidates = header
        .split(" ")
        .filter((s) => s.startsWith("v1,"))
        .slice(0, MAX_SIGNATURES);
      let valid = false;
      for (const candidate of candidates) {
        const mac = base64Bytes(candidate.slice(3));
        // Check every candidate (no early exit) so that timing says nothing about which one matched.
        if (mac && mac.byteLength === 32 && (await crypto.subtle.verify("HMAC", key, mac, signed))) valid = true;
      }
      if (!valid) throw badSignature("no webhook-signature entry matches the body");

      const payload = parseJsonObject(decodeUtf8(body));
      if (typeof payload.type !== "string" || !/^[\x20-\x7e]{1,200}$/.test(payload.type))
        throw new ApiError("invalid_request", "the body needs a type (the event name)", { field: "type" });
      return { deliveryId: id, items: [{ deliveryId: id, event: payload.type, payload }], ping: false };
    };
  },
};
