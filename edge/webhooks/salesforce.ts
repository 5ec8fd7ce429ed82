// Salesforce Outbound Messages: a SOAP envelope that carries no signature. Authenticity is the
// unguessable source id in the URL plus `OrganizationId` equal to the source's orgId. Each
// `Notification` has its own `Id`, which Salesforce keeps while it re-sends (for up to 24 h) until it
// gets the `<Ack>true</Ack>` answer, so each one is a delivery of its own. The SessionId an outbound
// message may carry is a live credential: it is dropped here and never reaches a task.
import { ApiError } from "../../protocol/errors.ts";
import { decodeUtf8 } from "./body.ts";
import type { DeliveryItem, KindHandler } from "./verify.ts";
import { badSignature, utf8 } from "./verify.ts";
import { child, parseXml, XmlError } from "./xml.ts";
import type { XmlElement } from "./xml.ts";

const SF_ID = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/;
const XSI_NIL = /(^|:)nil$/;
const XSI_TYPE = /(^|:)type$/;

function malformed(message: string): ApiError {
  return new ApiError("invalid_request", `not an outbound message: ${message}`);
}

function attr(el: XmlElement, pattern: RegExp): string | undefined {
  for (const [name, value] of Object.entries(el.attrs)) if (pattern.test(name)) return value;
  return undefined;
}

/** An sObject's fields: leaves become text (or null for xsi:nil), nested elements become objects. */
function fields(el: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of el.children) {
    const value = c.children.length > 0 ? fields(c) : attr(c, XSI_NIL) === "true" ? null : c.text;
    Object.defineProperty(out, c.local, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function text(el: XmlElement, local: string): string | undefined {
  const c = child(el, local);
  return c && attr(c, XSI_NIL) !== "true" ? c.text.trim() : undefined;
}

/** The first 15 characters identify an org (the 18-character form adds a case checksum). */
function orgKey(orgId: string): Uint8Array {
  return utf8(orgId.slice(0, 15));
}

export interface OutboundMessage {
  organizationId: string;
  items: DeliveryItem[];
}

export function parseOutboundMessage(xml: string): OutboundMessage {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    if (err instanceof XmlError) throw malformed(err.message);
    throw err;
  }
  if (root.local !== "Envelope") throw malformed("the root element is not a SOAP Envelope");
  const body = child(root, "Body");
  const notifications = body && child(body, "notifications");
  if (!notifications) throw malformed("no Body/notifications element");
  const organizationId = text(notifications, "OrganizationId");
  if (!organizationId || !SF_ID.test(organizationId)) throw malformed("OrganizationId is missing or malformed");
  const actionId = text(notifications, "ActionId") ?? null;
  const enterpriseUrl = text(notifications, "EnterpriseUrl") ?? null;
  const partnerUrl = text(notifications, "PartnerUrl") ?? null;

  const items: DeliveryItem[] = [];
  for (const n of notifications.children) {
    if (n.local !== "Notification") continue;
    const id = text(n, "Id");
    if (!id || !SF_ID.test(id)) throw malformed("a Notification has no valid Id");
    const sObject = child(n, "sObject");
    if (!sObject) throw malformed(`Notification ${id} has no sObject`);
    const type = (attr(sObject, XSI_TYPE) ?? "").replace(/^[^:]*:/, "");
    if (!/^[A-Za-z][A-Za-z0-9_]{0,79}$/.test(type)) throw malformed(`Notification ${id} has no sObject xsi:type`);
    items.push({
      deliveryId: id,
      event: type,
      payload: { organizationId, actionId, enterpriseUrl, partnerUrl, notificationId: id, sObjectType: type, sObject: fields(sObject) },
    });
  }
  if (items.length === 0) throw malformed("no Notification");
  if (items.length > 100) throw malformed("more than 100 Notifications");
  return { organizationId, items };
}

export const salesforce: KindHandler = {
  mediaTypes: ["text/xml", "application/soap+xml", "application/xml"],
  async prepare(source) {
    if (!source.orgId) throw new Error(`salesforce source "${source.name}" has no orgId`);
    const expected = orgKey(source.orgId);
    return async (_headers, body) => {
      const message = parseOutboundMessage(decodeUtf8(body));
      const presented = orgKey(message.organizationId);
      // Constant time, like every other secret comparison (both sides are 15 ASCII bytes).
      if (presented.byteLength !== expected.byteLength || !crypto.subtle.timingSafeEqual(presented, expected))
        throw badSignature("OrganizationId is not the org this source belongs to");
      return { deliveryId: message.items[0].deliveryId, items: message.items, ping: false };
    };
  },
};

// The answers Salesforce understands: an Ack (or it re-sends for 24 h) and a SOAP 1.1 fault.
const ENVELOPE_OPEN = '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>';
const ENVELOPE_CLOSE = "</soapenv:Body></soapenv:Envelope>";

export const SOAP_ACK = `${ENVELOPE_OPEN}<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>${ENVELOPE_CLOSE}`;

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function soapFault(status: number, code: string, message: string, requestId: string): string {
  const faultcode = status >= 500 ? "soapenv:Server" : "soapenv:Client";
  return (
    `${ENVELOPE_OPEN}<soapenv:Fault><faultcode>${faultcode}</faultcode><faultstring>${escapeXml(message)}</faultstring>` +
    `<detail><code>${escapeXml(code)}</code><requestId>${escapeXml(requestId)}</requestId></detail></soapenv:Fault>${ENVELOPE_CLOSE}`
  );
}
