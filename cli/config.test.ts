import { mkdtemp, readFile, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configDir, readConfig, withEnv, writeConfig } from "./config.ts";

describe("the CLI's config file", () => {
  it("lives under $XDG_CONFIG_HOME/sfp-edge, else ~/.config/sfp-edge, unless --config-dir says otherwise", () => {
    expect(configDir({ XDG_CONFIG_HOME: "/x/cfg", HOME: "/home/a" })).toBe("/x/cfg/sfp-edge");
    expect(configDir({ HOME: "/home/a" })).toBe("/home/a/.config/sfp-edge");
    expect(configDir({ XDG_CONFIG_HOME: "/x/cfg" }, "/tmp/here")).toBe("/tmp/here");
  });

  it("is written with mode 0600 in a 0700 directory, and read back", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "sfp-cli-")), "nested", "sfp-edge");
    const file = await writeConfig(dir, { url: "http://127.0.0.1:1", token: "secret-token", project: "prj_1" });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readConfig(dir)).toEqual({ url: "http://127.0.0.1:1", token: "secret-token", project: "prj_1" });
  });

  it("tightens a file that was left world-readable when it is rewritten", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sfp-cli-"));
    await writeFile(join(dir, "config.json"), "{}", { mode: 0o644 });
    await chmod(join(dir, "config.json"), 0o644);
    await writeConfig(dir, { url: "http://a", token: "t", project: "p" });
    expect((await stat(join(dir, "config.json"))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, "config.json"), "utf8")).token).toBe("t");
  });

  it("reads as empty when there is no file yet", async () => {
    expect(await readConfig(join(tmpdir(), `absent-${Date.now()}`))).toEqual({});
  });

  it("lets SFP_EDGE_URL, SFP_EDGE_TOKEN and SFP_EDGE_PROJECT override the stored login", () => {
    const stored = { url: "http://stored", token: "stored-token", project: "prj_stored" };
    expect(withEnv(stored, {})).toEqual(stored);
    expect(withEnv(stored, { SFP_EDGE_URL: "http://env", SFP_EDGE_TOKEN: "env-token", SFP_EDGE_PROJECT: "prj_env" })).toEqual({
      url: "http://env",
      token: "env-token",
      project: "prj_env",
    });
  });
});
