// retrieve and checkRetrieveStatus of the Metadata API double: a RetrieveRequest read as the WSDL
// types it, answered after the configured number of polls with a real zip of the named components
// and their package.xml.
import { FOLDER_TYPES, packageXml } from "./metadata-package.ts";
import { componentFiles, makeZip, sfId } from "./salesforce-fixtures.ts";
import { clientFault, Fault, sequence, xsdBoolean, type XmlObject } from "./soap.ts";
import { childNamed, childrenNamed, childText, type XmlElement } from "./xml.ts";

export interface RetrieveJob {
  id: string;
  polls: number;
  singlePackage: boolean;
  version: string;
  types: Array<{ name: string; members: string[] }>;
}

const REQUEST = ["apiVersion", "packageNames", "singlePackage", "specificFiles", "unpackaged"];
const PACKAGE = [
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
];

function startRetrieve(op: XmlElement, retrieves: Map<string, RetrieveJob>): XmlObject {
  sequence(op, ["request"]);
  const request = childNamed(op, "request");
  if (!request) throw clientFault("retrieve needs a request");
  sequence(request, REQUEST, ["packageNames", "specificFiles"]);
  const unpackaged = childNamed(request, "unpackaged");
  if (!unpackaged && !childrenNamed(request, "packageNames").length) {
    throw new Fault("sf:INVALID_OPERATION", "INVALID_OPERATION: a retrieve needs unpackaged or packageNames");
  }
  const types: RetrieveJob["types"] = [];
  if (unpackaged) {
    sequence(unpackaged, PACKAGE, ["types"]);
    for (const t of childrenNamed(unpackaged, "types")) {
      sequence(t, ["members", "name"], ["members"]);
      types.push({ name: childText(t, "name")?.trim() ?? "", members: childrenNamed(t, "members").map((m) => m.text.trim()) });
    }
  }
  const single = childNamed(request, "singlePackage");
  const job: RetrieveJob = {
    id: sfId("09S"),
    polls: 0,
    singlePackage: single ? xsdBoolean(single) : false,
    version: childText(request, "apiVersion")?.trim() || "62.0",
    types,
  };
  retrieves.set(job.id, job);
  return { done: false, id: job.id, state: "Queued" };
}

function retrieveStatus(op: XmlElement, retrieves: Map<string, RetrieveJob>, polls: number, user: { createdBy: string; createdByName: string }): XmlObject {
  sequence(op, ["asyncProcessId", "includeZip"]);
  const job = retrieves.get(childText(op, "asyncProcessId")?.trim() ?? "");
  if (!job) throw new Fault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Invalid Id for retrieve");
  job.polls += 1;
  const done = job.polls > polls;
  const now = new Date().toISOString();
  const prefix = job.singlePackage ? "" : "unpackaged/";
  const retrievable = job.types.filter((t) => FOLDER_TYPES[t.name]);
  const manifest: Record<string, string[]> = Object.fromEntries(job.types.map((t) => [t.name, t.members]));
  const files: Record<string, string> = { [`${prefix}package.xml`]: packageXml(manifest, job.version) };
  const properties: XmlObject[] = [];
  for (const t of retrievable) {
    for (const member of t.members.filter((m) => m !== "*")) {
      const own = componentFiles({ componentType: t.name, fullName: member }, job.version);
      for (const [path, text] of Object.entries(own)) files[`${prefix}${path}`] = text;
      properties.push({
        createdById: user.createdBy,
        createdByName: user.createdByName,
        createdDate: now,
        fileName: `${prefix}${Object.keys(own).find((p) => !p.endsWith("-meta.xml")) ?? Object.keys(own)[0]}`,
        fullName: member,
        id: sfId("01p"),
        lastModifiedById: user.createdBy,
        lastModifiedByName: user.createdByName,
        lastModifiedDate: now,
        manageableState: "unmanaged",
        type: t.name,
      });
    }
  }
  return {
    done,
    fileProperties: done
      ? [
          ...properties,
          {
            createdById: user.createdBy,
            createdByName: user.createdByName,
            createdDate: now,
            fileName: `${prefix}package.xml`,
            fullName: `${prefix}package.xml`,
            id: "",
            lastModifiedById: user.createdBy,
            lastModifiedByName: user.createdByName,
            lastModifiedDate: now,
            manageableState: "unmanaged",
            type: "Package",
          },
        ]
      : [],
    id: job.id,
    status: done ? "Succeeded" : "InProgress",
    success: done,
    zipFile: done ? makeZip(files).toString("base64") : undefined,
  };
}

/** The result of a retrieve or checkRetrieveStatus call. */
export function answerRetrieve(
  op: XmlElement,
  retrieves: Map<string, RetrieveJob>,
  polls: number,
  user: { createdBy: string; createdByName: string },
): XmlObject {
  return op.local === "retrieve" ? startRetrieve(op, retrieves) : retrieveStatus(op, retrieves, polls, user);
}
