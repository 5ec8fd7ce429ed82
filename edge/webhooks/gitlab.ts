// GitLab: `X-Gitlab-Token` carries the secret itself, compared in constant time. The event is the
// payload's `object_kind` (`push`, `merge_request`) plus `object_attributes.action` when present
// (`merge_request.open`), falling back to `X-Gitlab-Event` ("Push Hook" → `push`). The delivery id is
// `Idempotency-Key` (kept across GitLab's retries since 17.4) or else `X-Gitlab-Event-UUID`.
import { ApiError } from "../../protocol/errors.ts";
import { decodeUtf8, parseJsonObject } from "./body.ts";
import { badSignature, deliveryIdHeader, matchesSecret, requiredHeader, secretDigest } from "./verify.ts";
import type { KindHandler } from "./verify.ts";

/** "Merge Request Hook" → "merge_request", the spelling `object_kind` uses. */
function eventFromHeader(header: string): string {
  return header
    .replace(/\s+Hook$/i, "")
    .trim()
    .toLowerCase()
    .replace(/\s+/g, "_");
}

export const gitlab: KindHandler = {
  mediaTypes: ["application/json"],
  async prepare(source) {
    if (!source.secret) throw new Error(`gitlab source "${source.name}" has no secret`);
    const expected = await secretDigest(source.secret);
    return async (headers, body) => {
      const token = headers.get("x-gitlab-token");
      if (token === null) throw badSignature("the X-Gitlab-Token header is missing");
      if (!(await matchesSecret(token, expected))) throw badSignature("X-Gitlab-Token does not match the source's secret");

      const header = requiredHeader(headers, "x-gitlab-event");
      const deliveryId = headers.has("idempotency-key") ? deliveryIdHeader(headers, "idempotency-key") : deliveryIdHeader(headers, "x-gitlab-event-uuid");
      const payload = parseJsonObject(decodeUtf8(body));
      const kind = typeof payload.object_kind === "string" && payload.object_kind !== "" ? payload.object_kind : eventFromHeader(header);
      if (!/^[A-Za-z0-9_ -]{1,100}$/.test(kind)) throw new ApiError("invalid_request", "object_kind is malformed", { field: "object_kind" });
      const attrs = payload.object_attributes;
      const action =
        typeof attrs === "object" && attrs !== null && "action" in attrs && typeof attrs.action === "string" && attrs.action !== "" ? `.${attrs.action}` : "";
      return { deliveryId, items: [{ deliveryId, event: kind + action, payload }], ping: false };
    };
  },
};
