// A small, strict XML reader for SOAP envelopes (workerd has no DOM). It builds a plain element tree
// without recursion, knows only the five predefined entities and numeric character references, and
// refuses DOCTYPE, entity declarations and processing instructions outright, so entity expansion
// ("billion laughs") and external entities cannot happen. Depth and element count are bounded.

export interface XmlElement {
  /** The name as written, prefix included (`soapenv:Body`). */
  name: string;
  /** The name without its namespace prefix (`Body`). */
  local: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
}
const DEFAULT_LIMITS: XmlLimits = { maxDepth: 32, maxElements: 20_000 };

const MAX_ATTRIBUTES = 64;
const NAME = /[A-Za-z_][A-Za-z0-9._:-]*/y;
const ATTR = /\s+([A-Za-z_][A-Za-z0-9._:-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;
const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function decodeEntities(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&\s]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(";")) throw new XmlError("a bare '&' in character data");
    if (ref in PREDEFINED && Object.hasOwn(PREDEFINED, ref)) return PREDEFINED[ref];
    const m = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (!m) throw new XmlError(`an undefined entity &${ref};`);
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2], 10);
    if (!isXmlChar(cp)) throw new XmlError(`a character reference to an invalid character (${cp})`);
    return String.fromCodePoint(cp);
  });
}

function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon < 0 ? name : name.slice(colon + 1);
}

export function parseXml(src: string, limits: XmlLimits = DEFAULT_LIMITS): XmlElement {
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  // The XML declaration may only come first; any other `<?…?>` is a processing instruction.
  const decl = /\s*<\?xml\s[^?]*\?>/y;
  decl.lastIndex = i;
  if (decl.test(src)) i = decl.lastIndex;

  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;

  const text = (raw: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += decodeEntities(raw);
    else if (raw.trim() !== "") throw new XmlError("text outside the root element");
  };

  while (i < src.length) {
    const lt = src.indexOf("<", i);
    if (lt < 0) {
      text(src.slice(i));
      break;
    }
    if (lt > i) text(src.slice(i, lt));
    i = lt;
    if (src.startsWith("<!--", i)) {
      const end = src.indexOf("-->", i + 4);
      if (end < 0) throw new XmlError("an unterminated comment");
      i = end + 3;
    } else if (src.startsWith("<![CDATA[", i)) {
      const end = src.indexOf("]]>", i + 9);
      if (end < 0) throw new XmlError("an unterminated CDATA section");
      const top = stack[stack.length - 1];
      if (!top) throw new XmlError("CDATA outside the root element");
      top.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith("<!", i)) {
      throw new XmlError("DOCTYPE and entity declarations are not accepted");
    } else if (src.startsWith("<?", i)) {
      throw new XmlError("processing instructions are not accepted");
    } else if (src.startsWith("</", i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(src);
      if (!m) throw new XmlError("a malformed end tag");
      let j = NAME.lastIndex;
      while (j < src.length && /\s/.test(src[j])) j++;
      if (src[j] !== ">") throw new XmlError("a malformed end tag");
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new XmlError(`an end tag </${m[0]}> that closes nothing open`);
      i = j + 1;
    } else {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(src);
      if (!m) throw new XmlError("a malformed start tag");
      if (root && stack.length === 0) throw new XmlError("more than one root element");
      if (++elements > limits.maxElements) throw new XmlError("too many elements");
      if (stack.length >= limits.maxDepth) throw new XmlError("elements nested too deeply");
      const el: XmlElement = { name: m[0], local: localName(m[0]), attrs: {}, children: [], text: "" };
      let j = NAME.lastIndex;
      const attrs: [string, string][] = [];
      for (;;) {
        ATTR.lastIndex = j;
        const a = ATTR.exec(src);
        if (!a) break;
        if (attrs.length >= MAX_ATTRIBUTES) throw new XmlError("too many attributes on one element");
        if (attrs.some(([n]) => n === a[1])) throw new XmlError(`a repeated attribute ${a[1]}`);
        attrs.push([a[1], decodeEntities(a[2] ?? a[3])]);
        j = ATTR.lastIndex;
      }
      // fromEntries defines own properties, so an attribute named __proto__ stays a plain key.
      el.attrs = Object.fromEntries(attrs);
      while (j < src.length && /\s/.test(src[j])) j++;
      const selfClosing = src.startsWith("/>", j);
      if (!selfClosing && src[j] !== ">") throw new XmlError(`a malformed start tag <${m[0]}>`);
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else root = el;
      if (!selfClosing) stack.push(el);
      i = j + (selfClosing ? 2 : 1);
    }
  }
  if (stack.length > 0) throw new XmlError(`<${stack[stack.length - 1].name}> is never closed`);
  if (!root) throw new XmlError("no root element");
  return root;
}

/** The first child with this local name (namespace prefixes ignored). */
export function child(el: XmlElement, local: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local);
}
