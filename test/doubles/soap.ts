// SOAP as the Salesforce doubles speak it: a request envelope checked the way Salesforce checks it
// (well-formed XML, soapenv:Envelope with an optional Header and a Body holding exactly one call),
// the session read from SessionHeader in the SOAP header and nowhere else, WSDL-ordered elements and
// typed values, and answers and faults in Salesforce's envelope.
import type { ServerResponse } from "node:http";
import { childNamed, childText, METADATA_NS, parseXml, qname, SOAP_ENV_NS, XmlParseError, type XmlElement } from "./xml.ts";

/** A SOAP fault as Salesforce sends it: `sf:CODE` for API errors, `soapenv:Client` for a bad request. */
export class Fault extends Error {
  readonly faultcode: string;
  readonly faultstring: string;
  constructor(faultcode: string, faultstring: string) {
    super(faultstring);
    this.faultcode = faultcode;
    this.faultstring = faultstring;
  }
}

export const clientFault = (message: string) => new Fault("soapenv:Client", message);
export const invalidHere = (el: XmlElement) => clientFault(`Element ${qname(el)} invalid at this location`);

/** Checks an element holds only these children, each in the metadata namespace, in this (WSDL) order. */
export function sequence(el: XmlElement, allowed: readonly string[], repeatable: readonly string[] = []): void {
  let last = -1;
  for (const child of el.children) {
    const at = child.ns === METADATA_NS ? allowed.indexOf(child.local) : -1;
    if (at < 0 || at < last || (at === last && !repeatable.includes(child.local))) throw invalidHere(child);
    last = at;
  }
}

export function xsdBoolean(el: XmlElement): boolean {
  const text = el.text.trim();
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw clientFault(`'${text}' is not a valid value for the type xsd:boolean`);
}

export interface SoapRequest {
  /** The call: the one element in the Body (its namespace is the caller's to check). */
  call: XmlElement;
  /** SessionHeader/sessionId from the SOAP header, if there is one. */
  sessionId?: string;
}

/** Reads a request envelope; throws a soapenv:Client Fault for anything Salesforce would not parse. */
export function readSoapRequest(body: string): SoapRequest {
  let envelope: XmlElement;
  try {
    envelope = parseXml(body);
  } catch (err) {
    if (err instanceof XmlParseError) throw clientFault(`Unable to parse the request: ${err.message}`);
    throw err;
  }
  if (envelope.ns !== SOAP_ENV_NS || envelope.local !== "Envelope") throw invalidHere(envelope);
  const [first, second, ...rest] = envelope.children;
  const isEnv = (el: XmlElement | undefined, local: string) => el?.ns === SOAP_ENV_NS && el.local === local;
  const header = isEnv(first, "Header") ? first : undefined;
  const bodyEl = header ? second : first;
  if (!bodyEl || !isEnv(bodyEl, "Body")) throw clientFault("the envelope has no soapenv:Body");
  const extra = header ? rest[0] : second;
  if (extra) throw invalidHere(extra);
  if (bodyEl.children.length !== 1) throw clientFault(`the soapenv:Body must hold exactly one call, not ${bodyEl.children.length}`);
  const sessionHeader = header ? childNamed(header, "SessionHeader") : undefined;
  const sessionId = sessionHeader ? childText(sessionHeader, "sessionId")?.trim() : undefined;
  return { call: bodyEl.children[0], sessionId };
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export type XmlValue = string | number | boolean | null | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue;
}

export function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join("");
  if (value === null) return `<${name} xsi:nil="true"/>`;
  if (typeof value === "object")
    return `<${name}>${Object.entries(value)
      .map(([k, v]) => toXml(k, v))
      .join("")}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function soapEnvelope(inner: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}" ` +
    `xmlns="${METADATA_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    `<soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`
  );
}

export function sendSoapFault(res: ServerResponse, faultcode: string, faultstring: string): void {
  res.writeHead(500, { "content-type": "text/xml;charset=UTF-8" });
  res.end(soapEnvelope(`<soapenv:Fault><faultcode>${faultcode}</faultcode><faultstring>${escapeXml(faultstring)}</faultstring></soapenv:Fault>`));
}
