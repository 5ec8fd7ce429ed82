import { z } from "@hono/zod-openapi";
import { OrgAlias, PoolName } from "./task.ts";

// `approver` (issue 13): reads, and approves or rejects tasks to protected orgs; nothing else.
export const ROLES = ["owner", "member", "ci", "viewer", "approver"] as const;
export const Role = z.enum(ROLES).openapi("Role");
export type Role = z.infer<typeof Role>;

/** What each role may do (docs/API.md "Authentication"); the edge checks these, never ad-hoc role lists. */
export const PERMISSIONS = {
  "project:admin": ["owner"],
  "task:create": ["owner", "member", "ci"],
  "task:cancel": ["owner", "member"],
  "task:approve": ["owner", "approver"],
  read: ["owner", "member", "ci", "viewer", "approver"],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export function allows(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

export const ProjectName = z.string().min(1).max(100).openapi("ProjectName");
export const Project = z.object({ id: z.string(), name: z.string(), createdAt: z.string() }).openapi("Project");
export type Project = z.infer<typeof Project>;

export const CreateProjectBody = z.object({ name: ProjectName }).strict().openapi("CreateProjectBody");
export const CreateProjectAnswer = z.object({ project: Project, ownerToken: z.string() }).openapi("CreateProjectAnswer");

export const CreateTokenBody = z
  .object({
    name: z.string().min(1).max(100),
    role: Role,
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict()
  .openapi("CreateTokenBody");
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

export const TokenInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    role: Role,
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi("TokenInfo");
export type TokenInfo = z.infer<typeof TokenInfo>;
export const CreatedToken = z.object({ id: z.string(), token: z.string(), role: Role, expiresAt: z.string().nullable() }).openapi("CreatedToken");

/** Org settings of the org lock and approvals (issue 13): defaults and bounds. */
export const DEFAULT_MAX_CONCURRENT_DEPLOYS = 1;
export const MAX_CONCURRENT_DEPLOYS = 20;
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600;
export const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** What the org lock and approvals need of an org (the OrgActor keeps a copy). */
export interface OrgSettings {
  protected: boolean;
  maxConcurrentDeploys: number;
  approvalTimeoutSeconds: number;
  updatedAt: string;
}

export const PutOrgBody = z
  .object({
    pool: PoolName.optional(),
    orgId: z
      .string()
      .regex(/^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$/, "a Salesforce org id (00D…)")
      .optional(),
    instanceUrl: z.string().url().startsWith("https://").optional(),
    isProduction: z.boolean().optional(),
    protected: z.boolean().optional().openapi({ description: "tasks that change the org wait for an approver; default: isProduction" }),
    maxConcurrentDeploys: z.number().int().min(1).max(MAX_CONCURRENT_DEPLOYS).optional(),
    approvalTimeoutSeconds: z.number().int().min(60).max(MAX_APPROVAL_TIMEOUT_SECONDS).optional(),
  })
  .strict()
  .openapi("PutOrgBody");
export type PutOrgBody = z.infer<typeof PutOrgBody>;
export const Org = z
  .object({
    alias: OrgAlias,
    pool: z.string(),
    orgId: z.string().nullable(),
    instanceUrl: z.string().nullable(),
    isProduction: z.boolean(),
    protected: z.boolean(),
    maxConcurrentDeploys: z.number().int(),
    approvalTimeoutSeconds: z.number().int(),
    updatedAt: z.string(),
  })
  .openapi("Org");
export type Org = z.infer<typeof Org>;

/** Who a project token is (`GET /v1/projects/:project/whoami`): its role and what that role may do, so clients show only what works. */
export const WhoAmI = z
  .object({
    project: z.string(),
    tokenId: z.string(),
    role: Role,
    permissions: z.array(z.enum(Object.keys(PERMISSIONS) as [Permission, ...Permission[]])),
  })
  .openapi("WhoAmI");
export type WhoAmI = z.infer<typeof WhoAmI>;

/** The permissions a role holds, in PERMISSIONS' order. */
export function permissionsOf(role: Role): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => allows(role, p));
}

export const WsTicket = z.object({ ticket: z.string(), expiresAt: z.string() }).openapi("WsTicket");
