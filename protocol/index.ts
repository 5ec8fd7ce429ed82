export * from "./errors.ts";
export * from "./ids.ts";
export * from "./limits.ts";
export * from "./task.ts";
export * from "./project.ts";
export * from "./runner.ts";
export * from "./client.ts";
export * from "./artifacts.ts";
