// Secrets an actor must keep in a form it can use again (commit-status tokens, notification signing
// secrets) are stored encrypted: AES-256-GCM under a key derived (HKDF) from a Worker secret —
// `SECRETS_KEY` when set, else `TOKEN_SIGNING_KEY` — bound to where the value lives (additional data),
// so a ciphertext copied to another row or project does not open. A leaked actor database shows none.
import { b64url, fromB64url } from "./tokens.ts";

const VERSION = "v1";
const keys = new Map<string, Promise<CryptoKey>>();

function boxKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("sfp-secret-box-v1") },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(secret, key);
  }
  return key;
}

/** The Worker secret the box key comes from. */
export function boxSecret(env: { SECRETS_KEY?: string; TOKEN_SIGNING_KEY: string }): string {
  return env.SECRETS_KEY || env.TOKEN_SIGNING_KEY;
}

/** `v1.<iv>.<ciphertext>` (base64url) of `plain`, bound to `context` (e.g. "prj_…/source/gh/statusToken"). */
export async function seal(secret: string, context: string, plain: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(context);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: data }, await boxKey(secret), new TextEncoder().encode(plain));
  return `${VERSION}.${b64url(iv)}.${b64url(new Uint8Array(sealed))}`;
}

/** The plain text, or null when the value was sealed under another key (rotated) or another context. */
export async function open(secret: string, context: string, boxed: string): Promise<string | null> {
  const [version, ivText, bodyText] = boxed.split(".");
  const iv = fromB64url(ivText ?? "");
  const body = fromB64url(bodyText ?? "");
  if (version !== VERSION || iv?.length !== 12 || !body) return null;
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) }, await boxKey(secret), body);
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
