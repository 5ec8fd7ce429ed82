// Values a delivery puts into a URL template are URL-encoded: a branch name or title cannot steer the
// runner's zip download to another host, path or query (issue 11, SSRF through zipUrl).
import { describe, expect, it } from "vitest";
import { renderPayload } from "../../edge/webhooks/rules.ts";

const render = (template: string, delivery: unknown) => renderPayload({ zipUrl: template }, delivery).zipUrl;

describe("URL templates", () => {
  it("encode each value so that it stays within its place in the URL", () => {
    const delivery = {
      ref: "feature/x?token=1&evil=2#frag",
      host: "evil.example/",
      user: "attacker@evil.example",
      sha: "9b8c7d6e",
      title: "a b+c%d",
    };
    expect(render("https://ci.example/{{ref}}/{{sha}}.zip", delivery)).toBe("https://ci.example/feature%2Fx%3Ftoken%3D1%26evil%3D2%23frag/9b8c7d6e.zip");
    expect(render("https://ci.example/zips?branch={{ref}}&sig=abc", delivery)).toBe(
      "https://ci.example/zips?branch=feature%2Fx%3Ftoken%3D1%26evil%3D2%23frag&sig=abc",
    );
    expect(render("https://{{user}}/x.zip", delivery)).toBe("https://attacker%40evil.example/x.zip");
    // A value inside the host cannot end it: the result is no valid URL at all, which the runner refuses.
    expect(render("https://{{host}}ci.example/x.zip", delivery)).toBe("https://evil.example%2Fci.example/x.zip");
    expect(() => new URL(render("https://{{host}}ci.example/x.zip", delivery) as string)).toThrow();
    expect(render("https://ci.example/{{title}}.zip", delivery)).toBe("https://ci.example/a%20b%2Bc%25d.zip");
    // Whatever the value, the host the template names is the host of the URL.
    expect(new URL(render("https://ci.example/{{user}}/{{ref}}", delivery) as string).host).toBe("ci.example");
  });

  it("encode object values as their JSON text, and survive lone surrogates", () => {
    expect(render("https://ci.example/{{o}}", { o: { a: 1 } })).toBe(`https://ci.example/${encodeURIComponent('{"a":1}')}`);
    expect(render("https://ci.example/{{bad}}.zip", { bad: "x\ud800y" })).toBe("https://ci.example/x%EF%BF%BDy.zip");
  });

  it("leave a whole-value template and a string that is not a URL as they were", () => {
    const delivery = { url: "https://artifacts.example/a b/x.zip?sig=1", ref: "feature/x" };
    expect(render("{{url}}", delivery)).toBe("https://artifacts.example/a b/x.zip?sig=1");
    expect(renderPayload({ note: "built {{ref}}" }, delivery).note).toBe("built feature/x");
  });
});
