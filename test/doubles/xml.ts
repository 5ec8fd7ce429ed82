// Well-formed, namespace-aware XML for the Salesforce doubles, read with sax (strict mode) rather than
// regexes: a request that is not XML, or puts an element in the wrong namespace or place, is refused
// as Salesforce refuses it instead of being matched by accident.
import sax from "sax";

export const SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/";
export const METADATA_NS = "http://soap.sforce.com/2006/04/metadata";

export interface XmlElement {
  /** Namespace URI ("" for none). */
  ns: string;
  local: string;
  /** Attributes by qualified name, namespace declarations left out. */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data (text and CDATA), untrimmed. */
  text: string;
}

export class XmlParseError extends Error {
  override name = "XmlParseError";
}

/** Parses a whole document; throws XmlParseError for anything that is not well-formed XML. */
export function parseXml(source: string): XmlElement {
  const parser = sax.parser(true, { xmlns: true, strictEntities: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const fail = (message: string): never => {
    throw new XmlParseError(`${message} (line ${parser.line + 1}, column ${parser.column + 1})`);
  };
  parser.onerror = (err) => fail(err.message.split("\n")[0]);
  parser.ondoctype = () => fail("a DOCTYPE is not accepted");
  parser.onprocessinginstruction = (pi) => {
    if (pi.name !== "xml") fail(`a processing instruction <?${pi.name}?> is not accepted`);
  };
  parser.onopentag = (tag) => {
    const attrs: Record<string, string> = {};
    for (const [name, a] of Object.entries(tag.attributes)) if (a.prefix !== "xmlns" && name !== "xmlns") attrs[name] = a.value;
    const el: XmlElement = { ns: tag.uri ?? "", local: tag.local, attrs, children: [], text: "" };
    const parent = stack.at(-1);
    if (parent) parent.children.push(el);
    else if (root) fail("more than one root element");
    else root = el;
    stack.push(el);
  };
  parser.onclosetag = () => void stack.pop();
  const onText = (text: string) => {
    const top = stack.at(-1);
    if (top) top.text += text;
    else if (text.trim()) fail("text outside the root element");
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.write(source).close();
  if (!root) return fail("no root element");
  return root;
}

/** `{ns}local`, as Salesforce names elements in its faults. */
export function qname(el: Pick<XmlElement, "ns" | "local">): string {
  return `{${el.ns}}${el.local}`;
}

export function childrenNamed(el: XmlElement, local: string, ns = METADATA_NS): XmlElement[] {
  return el.children.filter((c) => c.local === local && c.ns === ns);
}

export function childNamed(el: XmlElement, local: string, ns = METADATA_NS): XmlElement | undefined {
  return childrenNamed(el, local, ns)[0];
}

/** The text of a child element, or undefined when it is absent. */
export function childText(el: XmlElement, local: string, ns = METADATA_NS): string | undefined {
  return childNamed(el, local, ns)?.text;
}
