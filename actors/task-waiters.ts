// What waits in memory on a TaskActor's task: long-polls held until its version moves, and runners'
// accepts that arrived before the task was born (the edge queues a new task in parallel with its
// creation, edge/new-task.ts). Every wait has a timer of its own: workerd cancels a request that
// awaits only a promise another request resolves.
export class TaskWaiters {
  private readonly waiting = new Set<() => void>();

  /** The task changed (called after every commit): every waiter looks again. */
  wake(): void {
    for (const wake of [...this.waiting]) wake();
  }

  /** Resolves at the task's next change, or after `ms`. */
  next(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }

  /** Waits until `ready()` holds, at most `ms`; answers whether it does. */
  async until(ready: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.next(left);
    }
    return true;
  }
}
