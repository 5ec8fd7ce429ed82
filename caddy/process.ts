// How sfp-edge runs Caddy on one machine (`npm start`, the system tests): the settings the Caddyfile
// reads from the environment, and where Caddy's local CA keeps its root certificate.
import { join, resolve } from "node:path";

export const CADDYFILE = resolve(import.meta.dirname, "Caddyfile");

export interface LocalCaddy {
  /** Caddy's home: its data (the local CA) and config live under it. */
  home: string;
  port: number;
  /** The managers, `host:port` separated by spaces. */
  upstreams: string;
  originToken: string;
  healthInterval?: string;
}

export function caddyArgs(): string[] {
  return ["run", "--config", CADDYFILE, "--adapter", "caddyfile"];
}

/** A clean environment for `caddy run`: nothing of the caller's but PATH. */
export function caddyEnv(opts: LocalCaddy): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: opts.home,
    XDG_DATA_HOME: join(opts.home, "data"),
    XDG_CONFIG_HOME: join(opts.home, "config"),
    SFP_ORIGIN_ADDRESS: `https://127.0.0.1:${opts.port}`,
    SFP_ORIGIN_TLS: "internal",
    SFP_MANAGER_UPSTREAMS: opts.upstreams,
    SFP_ORIGIN_TOKEN: opts.originToken,
    SFP_ORIGIN_HEALTH_INTERVAL: opts.healthInterval ?? "2s",
    SFP_CADDY_ADMIN: "off",
  };
}

/** The root certificate of the local CA Caddy creates under `home` for `tls internal`. */
export function localRootCa(home: string): string {
  return join(home, "data", "caddy", "pki", "authorities", "local", "root.crt");
}
