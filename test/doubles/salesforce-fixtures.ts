// Answers shaped like a real org's: ids with the right key prefixes, identity, limits, a tiny zip.
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** An 18-character id with a key prefix (0Af deploy, 09S retrieve, 707 Apex job, 07M test result…). */
export function sfId(prefix: string): string {
  const bytes = randomBytes(15 - prefix.length);
  let body = "";
  for (const b of bytes) body += ALNUM[b % ALNUM.length];
  return `${prefix}${body}AAA`.slice(0, 18);
}

export const API_VERSIONS = ["58.0", "59.0", "60.0", "61.0", "62.0", "63.0", "64.0"];
const RELEASES: Record<string, string> = {
  "58.0": "Summer '23",
  "59.0": "Winter '24",
  "60.0": "Spring '24",
  "61.0": "Summer '24",
  "62.0": "Winter '25",
  "63.0": "Spring '25",
  "64.0": "Summer '25",
};

export function versions(_base: string) {
  return API_VERSIONS.map((v) => ({ label: RELEASES[v], url: `/services/data/v${v}`, version: v }));
}

export function identity(base: string, orgId: string, userId: string, username: string) {
  return {
    id: `${base}/id/${orgId}/${userId}`,
    asserted_user: true,
    user_id: userId,
    organization_id: orgId,
    username,
    nick_name: username.split("@")[0],
    display_name: "Integration User",
    email: username,
    email_verified: true,
    first_name: "Integration",
    last_name: "User",
    timezone: "Europe/Paris",
    active: true,
    user_type: "STANDARD",
    language: "en_US",
    locale: "en_US",
    utcOffset: 3600000,
    last_modified_date: "2025-01-15T09:12:44Z",
    is_app_installed: true,
    urls: {
      enterprise: `${base}/services/Soap/c/{version}/${orgId}`,
      metadata: `${base}/services/Soap/m/{version}/${orgId}`,
      partner: `${base}/services/Soap/u/{version}/${orgId}`,
      rest: `${base}/services/data/v{version}/`,
      sobjects: `${base}/services/data/v{version}/sobjects/`,
      query: `${base}/services/data/v{version}/query/`,
      tooling_rest: `${base}/services/data/v{version}/tooling/`,
      profile: `${base}/${userId}`,
    },
  };
}

export function limits() {
  return {
    ConcurrentAsyncGetReportInstances: { Max: 200, Remaining: 200 },
    DailyApiRequests: { Max: 15000, Remaining: 14873 },
    DailyAsyncApexExecutions: { Max: 250000, Remaining: 250000 },
    DailyBulkApiBatches: { Max: 15000, Remaining: 15000 },
    DailyMetadataRetrievesWithDependencies: { Max: 50, Remaining: 50 },
    DataStorageMB: { Max: 5, Remaining: 5 },
    FileStorageMB: { Max: 20, Remaining: 20 },
    HourlyTimeBasedWorkflow: { Max: 50, Remaining: 50 },
    SingleEmail: { Max: 15, Remaining: 15 },
  };
}

/** A valid zip (stored, no compression) holding the given files. */
export function makeZip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text, "utf8");
    const nameBuf = Buffer.from(name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

export const PACKAGE_XML = `<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types><members>*</members><name>ApexClass</name></types>
    <version>62.0</version>
</Package>
`;
