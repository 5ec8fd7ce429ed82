import { describe, expect, it } from "vitest";
import { DEFAULT_CLIENT_ID, formatSfdxAuthUrl, InvalidAuthUrlError, parseSfdxAuthUrl } from "./auth-url.ts";

const REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrKfPgRSH4dvhLoFTj5n9V8PY.p_V7X6e1c4FlQ.RR2NS2VRkRr";

describe("sfdx auth URLs", () => {
  it("parses clientId:clientSecret:refreshToken@host into an https instance", () => {
    expect(parseSfdxAuthUrl(`force://3MVG9abc.def:A1B2C3D4E5:${REFRESH}@acme.my.salesforce.com`)).toEqual({
      clientId: "3MVG9abc.def",
      clientSecret: "A1B2C3D4E5",
      refreshToken: REFRESH,
      instanceUrl: "https://acme.my.salesforce.com",
    });
  });

  it("parses the sf CLI form with an empty client secret", () => {
    const auth = parseSfdxAuthUrl(`force://PlatformCLI::${REFRESH}@orgfarm-1234.my.salesforce.com`);
    expect(auth.clientId).toBe("PlatformCLI");
    expect(auth.clientSecret).toBe("");
    expect(auth.refreshToken).toBe(REFRESH);
  });

  it("parses the refresh-token-only form with the PlatformCLI client", () => {
    const auth = parseSfdxAuthUrl(`force://${REFRESH}@acme--uat.sandbox.my.salesforce.com`);
    expect(auth).toMatchObject({ clientId: DEFAULT_CLIENT_ID, clientSecret: "", instanceUrl: "https://acme--uat.sandbox.my.salesforce.com" });
  });

  it("accepts an explicit https scheme, and http only for loopback hosts", () => {
    expect(parseSfdxAuthUrl(`force://a::${REFRESH}@https://acme.my.salesforce.com/`).instanceUrl).toBe("https://acme.my.salesforce.com");
    expect(parseSfdxAuthUrl(`force://a::${REFRESH}@http://127.0.0.1:8443`).instanceUrl).toBe("http://127.0.0.1:8443");
    expect(() => parseSfdxAuthUrl(`force://a::${REFRESH}@http://acme.my.salesforce.com`)).toThrow(/https/);
  });

  it("trims surrounding whitespace (a file read with its newline)", () => {
    expect(parseSfdxAuthUrl(`  force://PlatformCLI::${REFRESH}@acme.my.salesforce.com\n`).refreshToken).toBe(REFRESH);
  });

  it.each([
    ["another scheme", `https://a:b:${REFRESH}@acme.my.salesforce.com`],
    ["no instance", `force://a:b:${REFRESH}`],
    ["an empty instance", `force://a:b:${REFRESH}@`],
    ["two parts before the @", `force://a:${REFRESH}@acme.my.salesforce.com`],
    ["an empty refresh token", "force://a:b:@acme.my.salesforce.com"],
    ["the literal 'undefined' as refresh token", "force://a:b:undefined@acme.my.salesforce.com"],
    ["spaces in the token", "force://a:b:abc def@acme.my.salesforce.com"],
    ["a query string on the instance", `force://a:b:${REFRESH}@acme.my.salesforce.com?x=1`],
  ])("rejects %s", (_, url) => {
    expect(() => parseSfdxAuthUrl(url)).toThrow(InvalidAuthUrlError);
  });

  it("never quotes the URL in its error message", () => {
    const bad = `force://a:b:${REFRESH}@http://evil.example.com`;
    expect(() => parseSfdxAuthUrl(bad)).toThrow(InvalidAuthUrlError);
    const message = thrownBy(() => parseSfdxAuthUrl(bad)).message;
    expect(message).toMatch(/https/);
    expect(message).not.toContain(REFRESH);
    expect(message).not.toContain("evil.example.com");
  });

  it("formats back to a URL that parses to the same credentials", () => {
    const auth = parseSfdxAuthUrl(`force://3MVG9abc:SECRET123:${REFRESH}@acme.my.salesforce.com`);
    expect(parseSfdxAuthUrl(formatSfdxAuthUrl(auth))).toEqual(auth);
    const local = parseSfdxAuthUrl(`force://PlatformCLI::${REFRESH}@http://localhost:4000`);
    expect(parseSfdxAuthUrl(formatSfdxAuthUrl(local))).toEqual(local);
  });
});

/** The error `fn` throws; fails the test when it throws nothing. */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error("expected it to throw, and it returned");
}
