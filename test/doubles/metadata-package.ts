// What the Metadata API double finds in a deploy zip, checked as Salesforce checks it: a package.xml at
// the root (or one per top-level folder when the zip is not a single package), well-formed, in the
// metadata namespace, naming known types; every component it names is in the zip (unless
// allowMissingFiles) and every component file in the zip is named in it. The deploy's components and
// their count come from here, never from test controls.
import { childText, childrenNamed, METADATA_NS, parseXml, qname, XmlParseError, type XmlElement } from "./xml.ts";
import { readZip, ZipError } from "./zip.ts";

export interface Component {
  componentType: string;
  fullName: string;
  fileName: string;
  /** Named in a destructiveChanges manifest: the deploy deletes it. */
  deleted?: boolean;
}

export interface ComponentFailure {
  componentType: string;
  fullName: string;
  fileName: string;
  problem: string;
  lineNumber?: number;
  columnNumber?: number;
}

/** Types whose components are files (or, for bundles, folders) in a folder of their own. */
export const FOLDER_TYPES: Record<string, { folder: string; suffix?: string }> = {
  ApexClass: { folder: "classes", suffix: ".cls" },
  ApexTrigger: { folder: "triggers", suffix: ".trigger" },
  ApexPage: { folder: "pages", suffix: ".page" },
  ApexComponent: { folder: "components", suffix: ".component" },
  CustomObject: { folder: "objects", suffix: ".object" },
  Layout: { folder: "layouts", suffix: ".layout" },
  PermissionSet: { folder: "permissionsets", suffix: ".permissionset" },
  Profile: { folder: "profiles", suffix: ".profile" },
  Flow: { folder: "flows", suffix: ".flow" },
  CustomLabels: { folder: "labels", suffix: ".labels" },
  StaticResource: { folder: "staticresources", suffix: ".resource" },
  CustomTab: { folder: "tabs", suffix: ".tab" },
  CustomApplication: { folder: "applications", suffix: ".app" },
  CustomMetadata: { folder: "customMetadata", suffix: ".md" },
  LightningComponentBundle: { folder: "lwc" },
  AuraDefinitionBundle: { folder: "aura" },
};

/** Types whose members live inside another component's file (an object's fields…), and that file. */
const CHILD_TYPES: Record<string, (member: string) => string> = {
  CustomField: (m) => `objects/${m.split(".")[0]}.object`,
  ValidationRule: (m) => `objects/${m.split(".")[0]}.object`,
  ListView: (m) => `objects/${m.split(".")[0]}.object`,
  RecordType: (m) => `objects/${m.split(".")[0]}.object`,
  WebLink: (m) => `objects/${m.split(".")[0]}.object`,
  CompactLayout: (m) => `objects/${m.split(".")[0]}.object`,
  FieldSet: (m) => `objects/${m.split(".")[0]}.object`,
  BusinessProcess: (m) => `objects/${m.split(".")[0]}.object`,
  CustomLabel: () => "labels/CustomLabels.labels",
};
/** The element a child component is written as inside its parent's file (`<fields><fullName>…`). */
const CHILD_ELEMENTS: Record<string, string> = {
  CustomField: "fields",
  ValidationRule: "validationRules",
  ListView: "listViews",
  RecordType: "recordTypes",
  WebLink: "webLinks",
  CompactLayout: "compactLayouts",
  FieldSet: "fieldSets",
  BusinessProcess: "businessProcesses",
  CustomLabel: "labels",
};

/** Whether the parent file in the zip holds the child (Salesforce reads it from there, as it does). */
function childInParent(files: Map<string, Buffer>, path: string, type: string, member: string): boolean {
  const bytes = files.get(path);
  if (!bytes) return false;
  let root: XmlElement;
  try {
    root = parseXml(bytes.toString("utf8"));
  } catch {
    return false;
  }
  const name = type === "CustomLabel" ? member : member.slice(member.indexOf(".") + 1);
  return childrenNamed(root, CHILD_ELEMENTS[type] ?? "").some((el) => childText(el, "fullName")?.trim() === name);
}

const PACKAGE_ELEMENTS = new Set([
  "apiAccessLevel",
  "description",
  "fullName",
  "namespacePrefix",
  "objectPermissions",
  "postInstallClass",
  "setupWeblink",
  "types",
  "uninstallClass",
  "version",
]);
const DESTRUCTIVE = ["destructiveChangesPre.xml", "destructiveChanges.xml", "destructiveChangesPost.xml"];

const fileFailure = (fileName: string, problem: string): ComponentFailure => ({
  componentType: "",
  fullName: fileName.split("/").at(-1) ?? fileName,
  fileName,
  problem,
});

/** The components a deploy zip holds, and what Salesforce would refuse in it. */
export function analyzeDeployZip(
  zip: Buffer,
  opts: { singlePackage: boolean; allowMissingFiles: boolean },
): { components: Component[]; failures: ComponentFailure[] } {
  let files: Map<string, Buffer>;
  try {
    files = readZip(zip);
  } catch (err) {
    if (!(err instanceof ZipError)) throw err;
    // Salesforce cannot open it, so it finds no manifest in it.
    return { components: [], failures: [fileFailure("package.xml", "No package.xml found")] };
  }
  let bases: string[];
  if (opts.singlePackage || files.has("package.xml")) bases = [""];
  else {
    // Not a single package: every top-level folder is a package of its own, with its own package.xml.
    bases = [...new Set([...files.keys()].filter((p) => p.includes("/")).map((p) => `${p.split("/")[0]}/`))].sort();
    if (!bases.length) bases = [""];
  }
  const components: Component[] = [];
  const failures: ComponentFailure[] = [];
  for (const base of bases) {
    const result = analyzePackage(files, base, opts.allowMissingFiles);
    components.push(...result.components);
    failures.push(...result.failures);
  }
  return { components, failures };
}

function analyzePackage(files: Map<string, Buffer>, base: string, allowMissingFiles: boolean): { components: Component[]; failures: ComponentFailure[] } {
  const manifestPath = `${base}package.xml`;
  const manifestBytes = files.get(manifestPath);
  if (!manifestBytes) return { components: [], failures: [fileFailure(manifestPath, "No package.xml found")] };
  const failures: ComponentFailure[] = [];
  const manifest = readManifest(manifestPath, manifestBytes, failures);
  const present = filesOf(files, base);
  const components: Component[] = [];
  const named = new Set<string>();
  for (const [type, members] of manifest) {
    const folderType = FOLDER_TYPES[type];
    const inZip = present.filter((c) => c.componentType === type);
    for (const member of members) {
      if (member === "*" && folderType) {
        for (const c of inZip) named.add(`${type}:${c.fullName}`);
        components.push(...inZip);
        continue;
      }
      named.add(`${type}:${member}`);
      const found = inZip.find((c) => c.fullName === member);
      if (found) components.push(found);
      else if (!folderType) {
        const fileName = `${base}${CHILD_TYPES[type]?.(member) ?? "package.xml"}`;
        if (allowMissingFiles || childInParent(files, fileName, type, member)) components.push({ componentType: type, fullName: member, fileName });
        else
          failures.push({
            componentType: type,
            fullName: member,
            fileName: manifestPath,
            problem: `An object '${member}' of type ${type} was named in package.xml, but was not found in zipped directory`,
          });
      } else if (!allowMissingFiles) {
        failures.push({
          componentType: type,
          fullName: member,
          fileName: manifestPath,
          problem: `An object '${member}' of type ${type} was named in package.xml, but was not found in zipped directory`,
        });
      }
    }
  }
  // A parent file that only carries named children (an object's file for one of its fields, as a delta
  // deploy sends it) is their container, not a component of its own: Salesforce takes it as such.
  const containers = new Set(components.filter((c) => CHILD_TYPES[c.componentType]).map((c) => c.fileName));
  for (const c of present) {
    if (!named.has(`${c.componentType}:${c.fullName}`) && !containers.has(c.fileName)) failures.push({ ...c, problem: "Not in package.xml" });
  }
  for (const name of DESTRUCTIVE) {
    const bytes = files.get(`${base}${name}`);
    if (!bytes) continue;
    for (const [type, members] of readManifest(`${base}${name}`, bytes, failures)) {
      for (const member of members) components.push({ componentType: type, fullName: member, fileName: `${base}${name}`, deleted: true });
    }
  }
  return { components, failures };
}

/** The types and members a manifest names; what is wrong with it goes to `failures`. */
function readManifest(path: string, bytes: Buffer, failures: ComponentFailure[]): Map<string, string[]> {
  const types = new Map<string, string[]>();
  let root: XmlElement;
  try {
    root = parseXml(bytes.toString("utf8"));
  } catch (err) {
    if (!(err instanceof XmlParseError)) throw err;
    failures.push(fileFailure(path, `Error parsing file: ${err.message}`));
    return types;
  }
  if (root.ns !== METADATA_NS || root.local !== "Package") {
    failures.push(fileFailure(path, `Error parsing file: Element ${qname(root)} invalid at this location`));
    return types;
  }
  for (const el of root.children) {
    if (el.ns !== METADATA_NS || !PACKAGE_ELEMENTS.has(el.local)) {
      failures.push(fileFailure(path, `Error parsing file: Element ${qname(el)} invalid at this location in type Package`));
      return types;
    }
  }
  for (const t of childrenNamed(root, "types")) {
    const stray = t.children.find((c) => c.ns !== METADATA_NS || (c.local !== "members" && c.local !== "name"));
    const name = childText(t, "name")?.trim();
    const members = childrenNamed(t, "members").map((m) => m.text.trim());
    if (stray || !name || !members.length || members.some((m) => !m)) {
      const what = stray ? `Element ${qname(stray)} invalid at this location` : "a types element needs a name and at least one member";
      failures.push(fileFailure(path, `Error parsing file: ${what} in type PackageTypeMembers`));
      continue;
    }
    if (!FOLDER_TYPES[name] && !CHILD_TYPES[name]) {
      failures.push(fileFailure(path, `Unknown type name '${name}' specified in package.xml`));
      continue;
    }
    types.set(name, [...(types.get(name) ?? []), ...members]);
  }
  return types;
}

/** The component files of one package in the zip (companion -meta.xml files belong to their component). */
function filesOf(files: Map<string, Buffer>, base: string): Component[] {
  const out = new Map<string, Component>();
  for (const path of files.keys()) {
    if (!path.startsWith(base)) continue;
    const [folder, name, ...rest] = path.slice(base.length).split("/");
    if (!name) continue;
    for (const [type, spec] of Object.entries(FOLDER_TYPES)) {
      if (spec.folder !== folder) continue;
      if (!spec.suffix) {
        // A bundle: every file under lwc/<name>/ is part of component <name>.
        if (rest.length) out.set(`${type}:${name}`, { componentType: type, fullName: name, fileName: `${base}${folder}/${name}` });
      } else if (!rest.length && name.endsWith(spec.suffix)) {
        const fullName = name.slice(0, -spec.suffix.length);
        out.set(`${type}:${fullName}`, { componentType: type, fullName, fileName: path });
      }
    }
  }
  return [...out.values()];
}

/** A package.xml naming these members by type, as the sf CLI writes one. */
export function packageXml(types: Record<string, string[]>, version = "62.0"): string {
  const blocks = Object.keys(types)
    .sort()
    .map(
      (name) =>
        `    <types>\n${[...types[name]]
          .sort()
          .map((m) => `        <members>${m}</members>\n`)
          .join("")}        <name>${name}</name>\n    </types>\n`,
    )
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Package xmlns="${METADATA_NS}">\n${blocks}    <version>${version}</version>\n</Package>\n`;
}
