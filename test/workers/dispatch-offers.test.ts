// The offer state machine (actors/dispatch-offers.ts): every move of an assignment goes through one
// table, and a move the table does not allow changes nothing.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { canMoveOffer, OFFER_STATES, OFFER_TRANSITIONS, Offers } from "../../actors/dispatch-offers.ts";
import { Timers } from "../../actors/timers.ts";

/** Runs `fn` against the Offers of a fresh dispatcher's storage. */
function withOffers<T>(fn: (offers: Offers, timers: Timers) => T): Promise<T> {
  const stub = env.DISPATCHER.get(env.DISPATCHER.idFromName(`offers-${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_instance, state) => {
    const timers = new Timers(state.storage);
    return fn(new Offers(state.storage, timers), timers);
  });
}

describe("offer transitions", () => {
  it("ends an offer once: offered moves to accepted, expired or withdrawn, and only a grant follows an end", () => {
    expect(OFFER_TRANSITIONS.offered).toEqual(["accepted", "expired", "withdrawn"]);
    for (const from of OFFER_STATES) {
      expect(canMoveOffer(from, "offered")).toBe(false);
      if (from !== "offered") {
        expect(canMoveOffer(from, "expired")).toBe(false);
        expect(canMoveOffer(from, "withdrawn")).toBe(false);
      }
    }
    expect(OFFER_TRANSITIONS.accepted).toEqual([]);
  });

  it("moves a stored offer only as the table allows, and ends its accept deadline", async () => {
    const seen = await withOffers((offers, timers) => {
      const id = offers.make("tsk_a", "rnr_a", Date.now() + 15_000);
      const armed = timers.get(`accept:${id}`) !== null;
      const expired = offers.move(id, "expired");
      const withdrawnAfterExpiry = offers.move(id, "withdrawn");
      const state = offers.get(id)?.state;
      const grantedLate = offers.move(id, "accepted");
      const expiredAfterGrant = offers.move(id, "expired");
      return {
        armed,
        deadline: timers.get(`accept:${id}`),
        expired,
        withdrawnAfterExpiry,
        state,
        grantedLate,
        expiredAfterGrant,
        final: offers.get(id)?.state,
      };
    });
    expect(seen).toEqual({
      armed: true,
      deadline: null,
      expired: true,
      withdrawnAfterExpiry: false,
      state: "expired",
      grantedLate: true,
      expiredAfterGrant: false,
      final: "accepted",
    });
  });

  it("counts only a runner's open offers within their deadline as pending", async () => {
    const pending = await withOffers((offers) => {
      const now = Date.now();
      offers.make("tsk_a", "rnr_a", now + 15_000);
      offers.make("tsk_b", "rnr_a", now - 1);
      const ended = offers.make("tsk_c", "rnr_a", now + 15_000);
      offers.make("tsk_d", "rnr_b", now + 15_000);
      offers.move(ended, "withdrawn");
      return offers.pending("rnr_a", now);
    });
    expect(pending).toBe(1);
  });
});
