// B7's Worker: the edge exactly as shipped, but its TaskActor writes one line to workerd's log each
// time it is constructed. A task actor is constructed once when first used and again each time it
// is woken after an eviction, so counting the lines tells whether idle actors were evicted while
// their sockets hibernated (bench/b7-hibernation.ts).
import type { Env } from "../../actors/env.ts";
import { TaskActor as ShippedTaskActor } from "../../edge/index.ts";

export * from "../../edge/index.ts";
export { default } from "../../edge/index.ts";

export class TaskActor extends ShippedTaskActor {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // bench/b7-hibernation.ts counts this line in workerd's log.
    console.log("b7: TaskActor constructed");
  }
}
