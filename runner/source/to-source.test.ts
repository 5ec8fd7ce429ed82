import { describe, expect, it } from "vitest";
import { metadataZip } from "../../test/doubles/salesforce-fixtures.ts";
import { SourceError } from "./errors.ts";
import { unzip } from "./testing.ts";
import { metadataZipToSource } from "./to-source.ts";

describe("a retrieved metadata zip → source format (source-deploy-retrieve)", () => {
  it("writes classes as .cls + -meta.xml and decomposes objects, under the package directory layout, from a zip with an unpackaged/ folder", async () => {
    const zip = metadataZip(
      [
        { componentType: "ApexClass", fullName: "InvoiceService" },
        { componentType: "CustomObject", fullName: "Invoice__c" },
      ],
      { folder: "unpackaged" },
    );
    const converted = await metadataZipToSource(zip, "62.0");
    const files = [...(await unzip(converted.zip)).keys()].sort();
    expect(files).toContain("main/default/classes/InvoiceService.cls");
    expect(files).toContain("main/default/classes/InvoiceService.cls-meta.xml");
    expect(files).toContain("main/default/objects/Invoice__c/Invoice__c.object-meta.xml");
    expect(files.some((f) => f.endsWith(".object"))).toBe(false);
    expect(converted.components).toBe(2);
  });

  it("fails with conversion_failed for bytes that are not a retrieve zip", async () => {
    await expect(metadataZipToSource(Buffer.from("not a zip"), "62.0")).rejects.toSatisfy(
      (e: unknown) => e instanceof SourceError && e.code === "conversion_failed",
    );
  });
});
