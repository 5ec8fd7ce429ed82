// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`; the event is
// `X-GitHub-Event` plus the payload's `action` (`pull_request.opened`); the delivery id is
// `X-GitHub-Delivery`, which GitHub keeps when it (or an owner) re-delivers.
import { ApiError } from "../../protocol/errors.ts";
import { decodeUtf8, parseJsonObject } from "./body.ts";
import { badSignature, deliveryIdHeader, hexBytes, hmacVerifyKey, requiredHeader, utf8 } from "./verify.ts";
import type { KindHandler } from "./verify.ts";

export const github: KindHandler = {
  // GitHub lets a hook send form-encoded bodies (`payload=<json>`); the signature covers the raw form.
  mediaTypes: ["application/json", "application/x-www-form-urlencoded"],
  async prepare(source) {
    if (!source.secret) throw new Error(`github source "${source.name}" has no secret`);
    const key = await hmacVerifyKey(utf8(source.secret));
    return async (headers, body) => {
      const header = headers.get("x-hub-signature-256");
      if (header === null) throw badSignature("the X-Hub-Signature-256 header is missing");
      const mac = header.startsWith("sha256=") ? hexBytes(header.slice(7), 64) : undefined;
      if (!mac) throw badSignature("X-Hub-Signature-256 is not sha256=<64 hex digits>");
      if (!(await crypto.subtle.verify("HMAC", key, mac, body))) throw badSignature("X-Hub-Signature-256 does not match the body");

      const name = requiredHeader(headers, "x-github-event");
      const deliveryId = deliveryIdHeader(headers, "x-github-delivery");
      const text = decodeUtf8(body);
      const form = (headers.get("content-type") ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded");
      const json = form ? new URLSearchParams(text).get("payload") : text;
      if (json === null) throw new ApiError("invalid_request", "a form-encoded delivery needs a payload field", { field: "payload" });
      const payload = parseJsonObject(json);
      const action = typeof payload.action === "string" && payload.action !== "" ? `.${payload.action}` : "";
      return { deliveryId, items: [{ deliveryId, event: name + action, payload }], ping: name === "ping" };
    };
  },
};
