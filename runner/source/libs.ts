// source-deploy-retrieve and sfdx-git-delta, loaded on first use: they take seconds to load and only
// source jobs need them, so a warm spare worker does not pay for them.
//
// Both log through @salesforce/core, whose root logger by default writes ~/.sf/sf-<date>.log from a
// worker thread; a runner keeps no such file, so file logging is switched off before either loads
// (sfdx-git-delta creates its logger while its modules are evaluated).

type Sdr = typeof import("@salesforce/source-deploy-retrieve");
type Sgd = typeof import("sfdx-git-delta");

let sdr: Promise<Sdr> | undefined;
let sgd: Promise<Sgd["default"]> | undefined;

function quietCore(): void {
  process.env.SF_DISABLE_LOG_FILE = "true";
}

export function loadSdr(): Promise<Sdr> {
  quietCore();
  sdr ??= import("@salesforce/source-deploy-retrieve");
  return sdr;
}

export function loadSgd(): Promise<Sgd["default"]> {
  quietCore();
  sgd ??= import("sfdx-git-delta").then((m) => m.default);
  return sgd;
}
