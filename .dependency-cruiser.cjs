// The layers import downward only: protocol/ ← common/ ← actors/ ← edge/; runner/ and cli/ use
// protocol/ alone and talk to the edge over HTTP. `npm run layers` (part of `npm test`) enforces it.
// Tests and test helpers may reach across layers to drive and observe them; shipped code may not.
const TEST = "(\\.test\\.ts$|/testing\\.ts$|^test/)";
const layer = (name, mayNotImport, comment) => ({
  name: `${name}-imports-downward-only`,
  comment,
  severity: "error",
  from: { path: `^${name}/`, pathNot: TEST },
  to: { path: `^(${mayNotImport.join("|")})/` },
});

module.exports = {
  forbidden: [
    layer("protocol", ["common", "actors", "edge", "runner", "cli", "scripts", "bench", "test"], "protocol/ is the wire contract: it imports nothing of ours"),
    layer("common", ["actors", "edge", "runner", "cli", "scripts", "bench", "test"], "common/ is what edge and actors share: it knows neither"),
    layer("actors", ["edge", "runner", "cli", "scripts", "bench", "test"], "actors know nothing of HTTP routing"),
    layer("edge", ["runner", "cli", "scripts", "bench", "test"], "the edge reaches runners over HTTP, never by import"),
    layer("runner", ["common", "actors", "edge", "cli", "scripts", "bench", "test"], "the runner uses protocol/ and talks to the edge over HTTP"),
    layer("cli", ["common", "actors", "edge", "runner", "scripts", "bench", "test"], "the CLI uses protocol/ and talks to the edge over HTTP"),
    {
      name: "no-circular-between-files",
      comment: "a cycle between shipped files makes their order of evaluation an accident",
      severity: "error",
      from: { pathNot: TEST },
      // The Worker's bindings are typed by the actor classes (actors/env.ts), so type-only edges may
      // close a loop; a loop of runtime imports may not.
      to: { circular: true, pathNot: TEST, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(node_modules|\\.wrangler|edge/dashboard)" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
