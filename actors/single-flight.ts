/**
 * Work that must not run twice at once (an outbox flush, a hand-off): a call while it runs joins the
 * run in flight instead of starting another.
 */
export class SingleFlight {
  private running: Promise<void> | null = null;
  private readonly work: () => Promise<void>;

  constructor(work: () => Promise<void>) {
    this.work = work;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  run(): Promise<void> {
    this.running ??= this.work().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
