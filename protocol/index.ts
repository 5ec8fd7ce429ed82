export * from "./errors.ts";
export * from "./ids.ts";
export * from "./task.ts";
export * from "./project.ts";
export * from "./runner.ts";
export * from "./client.ts";
export * from "./artifacts.ts";
