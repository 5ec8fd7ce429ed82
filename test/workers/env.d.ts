// Types `env` from "cloudflare:test" as the Worker's own bindings (actors/env.ts).
import type { Env as WorkerEnv } from "../../actors/env.ts";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- the runtime's types are merged this way
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
