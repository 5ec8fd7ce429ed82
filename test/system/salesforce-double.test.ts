// The Salesforce org double's Metadata API is as strict as Salesforce about the SOAP it takes, so a
// runner bug in the envelope, the session header or the options fails here as it would in production.
// Raw requests, built by hand; the first test shows the same request, made right, is answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metadataZip } from "../doubles/salesforce-fixtures.ts";
import { startSalesforceOrg, type SalesforceOrgDouble } from "../doubles/salesforce-org.ts";
import { METADATA_NS, SOAP_ENV_NS } from "../doubles/xml.ts";

let org: SalesforceOrgDouble;
let session: string;
const ZIP = metadataZip().toString("base64");

beforeAll(async () => {
  org = await startSalesforceOrg();
  const form = new URLSearchParams({ grant_type: "refresh_token", client_id: org.clientId, client_secret: org.clientSecret, refresh_token: org.refreshToken });
  const res = await fetch(`${org.url}/services/oauth2/token`, { method: "POST", body: form });
  session = ((await res.json()) as { access_token: string }).access_token;
});
afterAll(() => org?.close());

/** An envelope as jsforce writes one: the metadata namespace by default on Header and Body. */
function envelope(call: string, header = `<SessionHeader><sessionId>${session}</sessionId></SessionHeader>`, bodyNs = METADATA_NS): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    `<soapenv:Header xmlns="${METADATA_NS}">${header}</soapenv:Header><soapenv:Body xmlns="${bodyNs}">${call}</soapenv:Body></soapenv:Envelope>`
  );
}

const deploy = (options: string, zip = ZIP) => `<deploy><ZipFile>${zip}</ZipFile><DeployOptions>${options}</DeployOptions></deploy>`;

async function post(body: string): Promise<{ status: number; text: string; fault?: { code: string; message: string } }> {
  const res = await fetch(`${org.url}/services/Soap/m/62.0`, { method: "POST", headers: { "content-type": "text/xml", soapaction: '""' }, body });
  const text = await res.text();
  const code = /<faultcode>([^<]*)<\/faultcode>/.exec(text)?.[1];
  const message = /<faultstring>([^<]*)<\/faultstring>/.exec(text)?.[1];
  return {
    status: res.status,
    text,
    ...(code !== undefined ? { fault: { code, message: (message ?? "").replace(/&quot;/g, '"').replace(/&amp;/g, "&") } } : {}),
  };
}

// The tables below are built before beforeAll has a session: their bodies are made when each test runs.
describe("the Metadata API double", () => {
  it("answers a well-formed deploy with the session in SessionHeader", async () => {
    const res = await post(envelope(deploy("<checkOnly>true</checkOnly><testLevel>NoTestRun</testLevel>")));
    expect(res.status).toBe(200);
    expect(res.fault).toBeUndefined();
    expect(res.text).toMatch(/<deployResponse><result><done>false<\/done><id>0Af\w{15}<\/id><state>Queued<\/state><\/result><\/deployResponse>/);
  });

  it.each([
    ["no SOAP header", () => envelope(deploy(""), "")],
    ["the session id in the Body instead of the header", () => envelope(`<deploy><ZipFile>${ZIP}</ZipFile><sessionId>${session}</sessionId></deploy>`, "")],
    [
      "a SessionHeader outside the metadata namespace",
      () => envelope(deploy(""), `<SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>${session}</sessionId></SessionHeader>`),
    ],
    ["a session id Salesforce never issued", () => envelope(deploy(""), "<SessionHeader><sessionId>00D000000000001!AQ0AQforged</sessionId></SessionHeader>")],
  ])("refuses %s with INVALID_SESSION_ID", async (_, body) => {
    const res = await post(body());
    expect(res.status).toBe(500);
    expect(res.fault).toEqual({ code: "sf:INVALID_SESSION_ID", message: expect.stringMatching(/^INVALID_SESSION_ID: /) });
  });

  it.each([
    ["XML that is not well-formed", () => envelope(deploy("")).replace("</soapenv:Body>", ""), /^Unable to parse the request: /],
    ["a DOCTYPE", () => `<!DOCTYPE x [<!ENTITY a "b">]>${envelope(deploy("")).replace('<?xml version="1.0" encoding="UTF-8"?>', "")}`, /DOCTYPE/],
    [
      "a root that is not soapenv:Envelope",
      () => `<Envelope xmlns="${METADATA_NS}"><Body>${deploy("")}</Body></Envelope>`,
      /^Element \{http:\/\/soap\.sforce\.com\/2006\/04\/metadata\}Envelope invalid at this location$/,
    ],
    ["two calls in the Body", () => envelope(`${deploy("")}${deploy("")}`), /exactly one call, not 2/],
    [
      "a call outside the metadata namespace",
      () => envelope(deploy(""), undefined, "urn:partner.soap.sforce.com"),
      /^No operation available for request \{urn:partner\.soap\.sforce\.com\}deploy, please check the WSDL for the service\.$/,
    ],
    [
      "an operation the Metadata API does not have",
      () => envelope("<deployAll/>"),
      /^No operation available for request \{http:\/\/soap\.sforce\.com\/2006\/04\/metadata\}deployAll/,
    ],
    [
      "DeployOptions out of the WSDL's order",
      () => envelope(deploy("<testLevel>NoTestRun</testLevel><checkOnly>true</checkOnly>")),
      /^Element \{http:\/\/soap\.sforce\.com\/2006\/04\/metadata\}checkOnly invalid at this location$/,
    ],
    [
      "an option the WSDL does not have",
      () => envelope(deploy("<dryRun>true</dryRun>")),
      /^Element \{http:\/\/soap\.sforce\.com\/2006\/04\/metadata\}dryRun invalid at this location$/,
    ],
    ["a boolean that is not one", () => envelope(deploy("<checkOnly>yes</checkOnly>")), /^'yes' is not a valid value for the type xsd:boolean$/],
    [
      "a test level that does not exist",
      () => envelope(deploy("<testLevel>RunSomeTests</testLevel>")),
      /^'RunSomeTests' is not a valid value for the enum 'TestLevel'$/,
    ],
    ["a ZipFile that is not base64", () => envelope(deploy("", "not base64!")), /base64Binary/],
  ])("refuses %s with a soapenv:Client fault", async (_, body, message) => {
    const res = await post(body());
    expect(res.status).toBe(500);
    expect(res.fault?.code).toBe("soapenv:Client");
    expect(res.fault?.message).toMatch(message);
  });

  it("refuses RunSpecifiedTests without runTests with Salesforce's INVALID_OPERATION fault", async () => {
    const res = await post(envelope(deploy("<checkOnly>true</checkOnly><testLevel>RunSpecifiedTests</testLevel>")));
    expect(res.fault).toEqual({
      code: "sf:INVALID_OPERATION",
      message: "INVALID_OPERATION: runTests must not be empty when a testLevel of RunSpecifiedTests is used",
    });
    const named = await post(envelope(deploy("<checkOnly>true</checkOnly><runTests>AccountServiceTest</runTests><testLevel>RunSpecifiedTests</testLevel>")));
    expect(named.fault).toBeUndefined();
  });
});
