// Where the edge may send outbound requests (notification endpoints, GitHub/GitLab API URLs): https
// only, to public addresses. A Worker cannot resolve DNS, so this checks what it can see — literal
// IPs (every private, loopback, link-local, CGNAT, multicast and reserved range, IPv4 and IPv6 with
// embedded IPv4) and host names known to name internal services — and sends with `redirect: manual`
// so a public name cannot bounce a request inward. Loopback (http or https) is allowed only with the
// local-development setting; the metadata address 169.254.169.254 never.

/** Host names refused whatever they resolve to: loopback names and cloud metadata services. */
const BLOCKED_HOSTS = ["localhost", "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal", "metadata.azure.com"];
const BLOCKED_SUFFIXES = [".localhost", ".internal", ".local", ".home.arpa", ".intranet", ".lan"];

type V4Range = [number, number, number, number, number];
// [a, b, c, d, prefix length]
const V4_BLOCKED: V4Range[] = [
  [0, 0, 0, 0, 8],
  [10, 0, 0, 0, 8],
  [100, 64, 0, 0, 10],
  [127, 0, 0, 0, 8],
  [169, 254, 0, 0, 16],
  [172, 16, 0, 0, 12],
  [192, 0, 0, 0, 24],
  [192, 0, 2, 0, 24],
  [192, 88, 99, 0, 24],
  [192, 168, 0, 0, 16],
  [198, 18, 0, 0, 15],
  [198, 51, 100, 0, 24],
  [203, 0, 113, 0, 24],
  [224, 0, 0, 0, 4],
  [240, 0, 0, 0, 4],
];

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** Whether the edge may send to `raw`; `allowLoopback` is the local-development setting. */
export function checkEndpointUrl(raw: string, allowLoopback: boolean): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "credentials in the URL are not allowed" };
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const v4 = parseV4(host);
  const v6 = host.startsWith("[") ? parseV6(host.slice(1, -1)) : null;
  const embedded = v6 ? embeddedV4(v6) : null;
  const loopback = host === "localhost" || (v4 !== null && v4[0] === 127) || (v6 !== null && isV6Loopback(v6)) || embedded?.[0] === 127;
  if (loopback && allowLoopback) {
    return url.protocol === "https:" || url.protocol === "http:" ? { ok: true, url } : { ok: false, reason: "only http(s) URLs" };
  }
  if (loopback) return { ok: false, reason: "a loopback address (allowed only with SFP_ALLOW_LOOPBACK_ENDPOINTS, for local development)" };
  const address = v4 ?? embedded;
  if (address && V4_BLOCKED.some((r) => inV4(address, r))) return { ok: false, reason: "a private, link-local, metadata or reserved address" };
  if (v6 && !embedded && isV6Blocked(v6)) return { ok: false, reason: "a private, link-local or reserved IPv6 address" };
  if (host.startsWith("[") && !v6) return { ok: false, reason: "not an IPv6 address" };
  if (BLOCKED_HOSTS.includes(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s)) || (!v4 && !v6 && !host.includes(".")))
    return { ok: false, reason: "an internal host name" };
  if (url.protocol !== "https:") return { ok: false, reason: "only https URLs" };
  return { ok: true, url };
}

/** The WHATWG URL parser already turns 0x7f.1, 2130706433 and 0177.0.0.1 into dotted decimal. */
function parseV4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function inV4(a: number[], [b0, b1, b2, b3, bits]: V4Range): boolean {
  const n = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
  const base = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (n & mask) >>> 0 === (base & mask) >>> 0;
}

/** Eight 16-bit groups, or null. The URL parser has already normalised the text (hex only, lower case). */
function parseV6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h ? h.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN)) : []);
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  return all.every((g) => Number.isInteger(g)) ? all : null;
}

function isV6Loopback(g: number[]): boolean {
  return g.slice(0, 7).every((x) => x === 0) && g[7] === 1;
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 (64:ff9b::) address. */
function embeddedV4(g: number[]): number[] | null {
  const v4 = [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255];
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(5) && g[5] === 0xffff) return v4;
  if (zeros(6) && (g[6] !== 0 || g[7] > 1)) return v4;
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4;
  return null;
}

function isV6Blocked(g: number[]): boolean {
  if (g.every((x) => x === 0)) return true; // ::
  if (isV6Loopback(g)) return true;
  if ((g[0] & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g[0] & 0xffc0) === 0xfe80 || (g[0] & 0xffc0) === 0xfec0) return true; // link-local, site-local
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (g[0] === 0x2001 && g[1] < 0x200) return true; // 2001::/23 IETF protocol assignments (Teredo etc.)
  if (g[0] === 0x2002) return true; // 6to4 can wrap any IPv4 address
  return (g[0] & 0xe000) !== 0x2000; // outside 2000::/3, nothing is global unicast
}
