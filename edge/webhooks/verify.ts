// What every kind of webhook source provides, and the constant-time primitives they share.
import { ApiError } from "../../protocol/errors.ts";
import type { WebhookSourceRecord } from "../../protocol/webhook.ts";

/** One unit of work a delivery asks for: one for most kinds, one per Notification for Salesforce. */
export interface DeliveryItem {
  deliveryId: string;
  event: string;
  payload: unknown;
}

export interface VerifiedDelivery {
  /** The id the answer reports (the first item's for Salesforce). */
  deliveryId: string;
  items: DeliveryItem[];
  /** GitHub's `ping`: authentic, answered 200, never mapped to tasks. */
  ping: boolean;
}

/** Checks a delivery's authenticity on the raw bytes, then parses it; throws ApiError otherwise. */
export type Verifier = (headers: Headers, body: Uint8Array, nowMs: number) => Promise<VerifiedDelivery>;

export interface KindHandler {
  /** Media types accepted (lower case, parameters stripped); anything else is a 415. */
  mediaTypes: readonly string[];
  /** Runs once per cached source: imports keys so that the hot path only computes one MAC. */
  prepare(source: WebhookSourceRecord): Promise<Verifier>;
}

const encoder = new TextEncoder();

export function hmacVerifyKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Compares a presented secret with the expected one in constant time. Both sides are hashed first
 * so that the comparison has a fixed length and the time spent says nothing about the secret's length.
 */
export async function secretDigest(secret: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(secret)));
}
export async function matchesSecret(presented: string, expectedDigest: Uint8Array): Promise<boolean> {
  return crypto.subtle.timingSafeEqual(await secretDigest(presented), expectedDigest);
}

/** Exactly `chars` hex digits → bytes; anything else (truncated, non-hex) → undefined. */
export function hexBytes(hex: string, chars: number): Uint8Array | undefined {
  if (hex.length !== chars || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(chars / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function base64Bytes(b64: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export function badSignature(message: string): ApiError {
  return new ApiError("bad_signature", message);
}

// Delivery ids end up in derived task ids and in task.source: printable, bounded.
const DELIVERY_ID = /^[\x21-\x7e]{1,200}$/;

/** A required header naming a delivery or an event; missing or malformed → 400 naming it. */
export function requiredHeader(headers: Headers, name: string): string {
  const value = headers.get(name)?.trim();
  if (!value) throw new ApiError("invalid_request", `the ${name} header is missing`, { field: name });
  if (!/^[\x20-\x7e]{1,200}$/.test(value)) throw new ApiError("invalid_request", `the ${name} header is malformed`, { field: name });
  return value;
}

export function deliveryIdHeader(headers: Headers, name: string): string {
  const value = requiredHeader(headers, name);
  if (!DELIVERY_ID.test(value)) throw new ApiError("invalid_request", `the ${name} header is malformed`, { field: name });
  return value;
}
