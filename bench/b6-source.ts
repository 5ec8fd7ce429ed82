// B6: checkout + convert of a generated sfdx project with 2,000 components, served by a real git
// server on loopback (git http-backend, token required): cold (empty cache), with a warm cache (the
// next commit, 10 components changed), and the delta of those 10. Each scenario runs in a fresh Node
// process (as a worker would) so its peak RSS is its own. Prints a table; asserts nothing.
//
//   node bench/b6-source.ts            # 2,000 components
//   B6_COMPONENTS=500 node bench/b6-source.ts
//   B6_VERBOSE=1 node bench/b6-source.ts    # and when each stage began
import { execFileSync, fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareSourceDeploy, type SourceProgress, type SourceSpec } from "../runner/source/index.ts";
import { loadSdr, loadSgd } from "../runner/source/libs.ts";
import { startGitServer } from "../test/doubles/git-server.ts";

const TOKEN = "ghp_bench0123456789abcdefABCDEF0123";
const CLASS_META =
  '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n    <apiVersion>62.0</apiVersion>\n    <status>Active</status>\n</ApexClass>\n';

interface Scenario {
  source: SourceSpec;
  cacheDir: string;
  workDir: string;
}
interface Measured {
  seconds: number;
  /** Of which: loading SDR (and sgd for a delta), once per worker process. */
  loadSeconds: number;
  /** user + system CPU of the worker process (git's children not included). */
  cpuSeconds: number;
  peakRssMiB: number;
  components: number;
  destructive: number;
  fetchedObjects: number;
  zipBytes: number;
}

/** A project of `total` components: half Apex classes, objects with 24 fields each, LWC bundles, labels, permission sets. */
function generate(dir: string, total: number): number {
  const d = join(dir, "force-app/main/default");
  for (const sub of ["classes", "objects", "lwc", "labels", "permissionsets"]) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(dir, "sfdx-project.json"), JSON.stringify({ packageDirectories: [{ path: "force-app", default: true }], sourceApiVersion: "62.0" }));
  writeFileSync(join(dir, ".forceignore"), "**/__tests__/**\n");
  let n = 0;
  const classes = Math.floor(total / 2);
  for (let i = 0; i < classes; i++, n++) {
    writeFileSync(
      join(d, "classes", `Service${i}.cls`),
      `public with sharing class Service${i} {\n    public static Integer value() {\n        return ${i};\n    }\n}\n`,
    );
    writeFileSync(join(d, "classes", `Service${i}.cls-meta.xml`), CLASS_META);
  }
  const objects = Math.max(1, Math.floor(total / 100));
  for (let o = 0; o < objects; o++, n++) {
    const obj = join(d, "objects", `Thing${o}__c`);
    mkdirSync(join(obj, "fields"), { recursive: true });
    writeFileSync(
      join(obj, `Thing${o}__c.object-meta.xml`),
      `<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n    <deploymentStatus>Deployed</deploymentStatus>\n    <label>Thing ${o}</label>\n    <nameField>\n        <label>Name</label>\n        <type>Text</type>\n    </nameField>\n    <pluralLabel>Things ${o}</pluralLabel>\n    <sharingModel>ReadWrite</sharingModel>\n</CustomObject>\n`,
    );
    for (let f = 0; f < 24; f++, n++) {
      writeFileSync(
        join(obj, "fields", `Field${f}__c.field-meta.xml`),
        `<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n    <fullName>Field${f}__c</fullName>\n    <label>Field ${f}</label>\n    <length>80</length>\n    <type>Text</type>\n</CustomField>\n`,
      );
    }
  }
  const bundles = Math.floor((total - n) / 2);
  for (let b = 0; b < bundles; b++, n++) {
    const lwc = join(d, "lwc", `widget${b}`);
    mkdirSync(lwc, { recursive: true });
    writeFileSync(join(lwc, `widget${b}.js`), `import { LightningElement } from "lwc";\nexport default class Widget${b} extends LightningElement {}\n`);
    writeFileSync(join(lwc, `widget${b}.html`), `<template><p>widget ${b}</p></template>\n`);
    writeFileSync(
      join(lwc, `widget${b}.js-meta.xml`),
      '<?xml version="1.0" encoding="UTF-8"?>\n<LightningComponentBundle xmlns="http://soap.sforce.com/2006/04/metadata">\n    <apiVersion>62.0</apiVersion>\n    <isExposed>false</isExposed>\n</LightningComponentBundle>\n',
    );
  }
  const labels: string[] = [];
  const labelCount = total - n - 10;
  for (let l = 0; l < labelCount; l++, n++) {
    labels.push(
      `    <labels>\n        <fullName>Label${l}</fullName>\n        <language>en_US</language>\n        <protected>false</protected>\n        <shortDescription>Label ${l}</shortDescription>\n        <value>Text ${l}</value>\n    </labels>`,
    );
  }
  writeFileSync(
    join(d, "labels", "CustomLabels.labels-meta.xml"),
    `<?xml version="1.0" encoding="UTF-8"?>\n<CustomLabels xmlns="http://soap.sforce.com/2006/04/metadata">\n${labels.join("\n")}\n</CustomLabels>\n`,
  );
  for (let p = 0; n < total; p++, n++) {
    writeFileSync(
      join(d, "permissionsets", `Access${p}.permissionset-meta.xml`),
      `<?xml version="1.0" encoding="UTF-8"?>\n<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">\n    <label>Access ${p}</label>\n</PermissionSet>\n`,
    );
  }
  return n;
}

/** Ten changes: 7 classes edited, 2 fields added, 1 class deleted. */
function changeTen(dir: string): void {
  const d = join(dir, "force-app/main/default");
  for (let i = 0; i < 7; i++)
    writeFileSync(
      join(d, "classes", `Service${i}.cls`),
      `public with sharing class Service${i} {\n    public static Integer value() {\n        return ${i} + 1;\n    }\n}\n`,
    );
  for (let f = 0; f < 2; f++) {
    writeFileSync(
      join(d, "objects", "Thing0__c", "fields", `Added${f}__c.field-meta.xml`),
      `<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n    <fullName>Added${f}__c</fullName>\n    <label>Added ${f}</label>\n    <type>Checkbox</type>\n    <defaultValue>false</defaultValue>\n</CustomField>\n`,
    );
  }
  rmSync(join(d, "classes", "Service9.cls"));
  rmSync(join(d, "classes", "Service9.cls-meta.xml"));
}

async function child(): Promise<void> {
  const scenario = JSON.parse(process.argv[3] ?? "{}") as Scenario;
  const t0 = performance.now();
  await loadSdr();
  if (scenario.source.delta) await loadSgd();
  const loadSeconds = (performance.now() - t0) / 1000;
  // B6_VERBOSE=1: each stage's start, in seconds since the scenario began (where the time goes)
  const onProgress = process.env.B6_VERBOSE
    ? (p: SourceProgress) => console.error(`  ${((performance.now() - t0) / 1000).toFixed(2)} s ${p.stage}: ${p.message}`)
    : undefined;
  const prepared = await prepareSourceDeploy({ ...scenario, token: TOKEN, signal: new AbortController().signal, allowLocalHttp: true, onProgress });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage();
  await prepared.cleanup();
  const measured: Measured = {
    seconds,
    loadSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    components: prepared.components,
    destructive: prepared.destructive,
    fetchedObjects: prepared.fetchedObjects,
    zipBytes: prepared.zip.length,
  };
  process.send?.(measured);
}

function run(scenario: Scenario): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const c = fork(import.meta.filename, ["--child", JSON.stringify(scenario)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    c.once("message", (m) => resolve(m as Measured));
    c.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`scenario exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const total = Number(process.env.B6_COMPONENTS ?? 2000);
  const root = mkdtempSync(join(tmpdir(), "sfp-b6-"));
  const env = { ...process.env, GIT_AUTHOR_NAME: "b6", GIT_AUTHOR_EMAIL: "b6@example.com", GIT_COMMITTER_NAME: "b6", GIT_COMMITTER_EMAIL: "b6@example.com" };
  const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env, encoding: "utf8" }).trim();
  try {
    const work = join(root, "work");
    mkdirSync(work);
    const generated = generate(work, total);
    git(work, "init", "--quiet", "--initial-branch=main");
    git(work, "add", "--all");
    git(work, "commit", "--quiet", "--message", "v1");
    const v1 = git(work, "rev-parse", "HEAD");
    changeTen(work);
    git(work, "add", "--all");
    git(work, "commit", "--quiet", "--message", "v2");
    const v2 = git(work, "rev-parse", "HEAD");
    mkdirSync(join(root, "served", "acme"), { recursive: true });
    git(root, "clone", "--quiet", "--bare", work, join(root, "served", "acme", "big.git"));
    const server = await startGitServer({ root: join(root, "served"), token: TOKEN });
    const repo = `${server.url}/acme/big.git`;
    const cacheDir = join(root, "cache");
    const workDir = join(root, "jobs");
    const rows: Array<[string, Measured]> = [];
    try {
      rows.push([`cold: checkout + convert (${generated} components)`, await run({ source: { repo, ref: v1 }, cacheDir, workDir })]);
      rows.push(["warm cache: next commit, checkout + convert", await run({ source: { repo, ref: v2 }, cacheDir, workDir })]);
      rows.push(["warm cache: delta of 10 changed components", await run({ source: { repo, ref: v2, delta: { from: v1 } }, cacheDir, workDir })]);
    } finally {
      await server.close();
    }
    console.log("| B6 | seconds (of which loading SDR/sgd) | worker CPU s | peak RSS (MiB) | components / deleted | objects fetched | zip bytes |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const [name, m] of rows) {
      const cells = [`${m.seconds.toFixed(2)} (${m.loadSeconds.toFixed(2)})`, m.cpuSeconds.toFixed(2), m.peakRssMiB.toFixed(0)];
      console.log(`| ${name} | ${cells.join(" | ")} | ${m.components} / ${m.destructive} | ${m.fetchedObjects} | ${m.zipBytes} |`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") await child();
else await main();
