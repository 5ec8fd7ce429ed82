import type { Role } from "../../protocol/index.ts";

/** Who is calling, once the edge has checked their credentials. */
export type Caller =
  | { kind: "admin" }
  | { kind: "token"; tokenId: string; project: string; role: Role }
  | { kind: "runner"; runnerId: string; project: string; pool: string }
  | { kind: "job"; taskId: string; project: string; epoch: number };

/** The rate-limit key for an authenticated caller: per token, per runner, per job. */
export function limitKey(caller: Caller): string {
  switch (caller.kind) {
    case "admin":
      return "admin";
    case "token":
      return caller.tokenId;
    case "runner":
      return caller.runnerId;
    case "job":
      return `job:${caller.taskId}`;
  }
}
