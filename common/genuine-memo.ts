// A bounded memo of answers that are pure functions of their input under one secret: a token's
// signature or an id's HMAC tag checks out today exactly as it did a moment ago, so an isolate
// checks each one once instead of on every request (a long-poll, a job's events and heartbeats
// name the same task and carry the same token again and again). Only genuine answers are kept: a
// forgery is checked in full every time, so a timing difference can only tell a caller that a
// genuine value it already holds was seen recently.
export class GenuineMemo<V> {
  private readonly bySecret = new Map<string, Map<string, V>>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get(secret: string, input: string): V | undefined {
    return this.bySecret.get(secret)?.get(input);
  }

  /** Keeps `value`; past `max` entries the oldest goes (first in, first out: cheap and enough here). */
  set(secret: string, input: string, value: V): void {
    let memo = this.bySecret.get(secret);
    if (!memo) {
      memo = new Map();
      this.bySecret.set(secret, memo);
    }
    if (memo.size >= this.max) memo.delete(memo.keys().next().value as string);
    memo.set(input, value);
  }
}
