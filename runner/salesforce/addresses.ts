// Which IP addresses a runner may fetch from on a task's behalf: public ones only. Loopback, private,
// shared (CGNAT), link-local (cloud metadata at 169.254.169.254), unique-local, multicast, reserved
// and documentation ranges are not, in IPv4 and IPv6 alike; an IPv6 address that carries an IPv4 one
// (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96) is judged by it, and IPv4-compatible ::a.b.c.d,
// 6to4 and Teredo (which tunnel to any IPv4 address) are refused.
import { isIP } from "node:net";

export type AddressKind = "public" | "loopback" | "internal";

type Range = { bytes: number[]; prefix: number };

const v4 = (cidr: string): Range => {
  const [ip, prefix] = cidr.split("/");
  return { bytes: ip.split(".").map(Number), prefix: Number(prefix) };
};
const v6 = (cidr: string): Range => {
  const [ip, prefix] = cidr.split("/");
  return { bytes: ipv6Bytes(ip) ?? [], prefix: Number(prefix) };
};

const V4_LOOPBACK = [v4("127.0.0.0/8")];
// IANA's IPv4 special-purpose registry (what is not globally reachable), and cloud metadata.
const V4_INTERNAL = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  // Azure's wire server and instance metadata endpoint sit in otherwise public space.
  "168.63.129.16/32",
].map(v4);

const V6_LOOPBACK = [v6("::1/128")];
const V6_INTERNAL = [
  "::/96",
  "100::/64",
  "64:ff9b:1::/48",
  "2001::/23",
  "2001:db8::/32",
  "2002::/16",
  "3fff::/20",
  "5f00::/16",
  "fc00::/7",
  "fe80::/10",
  "fec0::/10",
  "ff00::/8",
].map(v6);
/** IPv6 ranges whose last 32 bits are an IPv4 address that decides (mapped, and NAT64's). */
const V6_EMBEDDING_V4 = ["::ffff:0:0/96", "64:ff9b::/96"].map(v6);

/** Public, loopback, or internal (everything else a runner must not reach for a task). */
export function addressKind(address: string): AddressKind {
  const family = isIP(address);
  if (family === 4) return kindOf(address.split(".").map(Number), V4_LOOPBACK, V4_INTERNAL);
  const bytes = family === 6 ? ipv6Bytes(address) : undefined;
  if (!bytes) return "internal";
  if (matches(bytes, V6_LOOPBACK)) return "loopback";
  if (matches(bytes, V6_EMBEDDING_V4)) return kindOf(bytes.slice(12), V4_LOOPBACK, V4_INTERNAL);
  return kindOf(bytes, V6_LOOPBACK, V6_INTERNAL);
}

function kindOf(bytes: number[], loopback: Range[], internal: Range[]): AddressKind {
  if (matches(bytes, loopback)) return "loopback";
  return matches(bytes, internal) ? "internal" : "public";
}

function matches(bytes: number[], ranges: Range[]): boolean {
  return ranges.some((r) => r.bytes.length === bytes.length && samePrefix(bytes, r.bytes, r.prefix));
}

function samePrefix(a: number[], b: number[], bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i] & mask) !== (b[i] & mask)) return false;
  }
  return true;
}

/** The 16 bytes of an IPv6 address (`::` and a trailing dotted IPv4 allowed; a zone id ignored). */
export function ipv6Bytes(text: string): number[] | undefined {
  let s = text.replace(/%.*$/, "");
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    if (isIP(dotted[1]) !== 4) return undefined;
    const [a, b, c, d] = dotted[1].split(".").map(Number);
    s = `${s.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const n = Number.parseInt(g, 16);
    tail.push(n >> 8, n & 0xff);
  }
  return tail;
}
