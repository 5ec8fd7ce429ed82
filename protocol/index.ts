export * from "./errors.ts";
export * from "./ids.ts";
export * from "./task.ts";
export * from "./checkpoint.ts";
export * from "./project.ts";
export * from "./runner.ts";
export * from "./client.ts";
