import { z } from "@hono/zod-openapi";

// A checkpoint: the Salesforce job a task's attempt started, recorded as soon as Salesforce accepted
// it, so that a later attempt (after a lost lease or a crashed runner) follows that job instead of
// starting a second one. docs/API.md "Resuming after a lost lease" has the rules.

/** The task types whose Salesforce job can be resumed; a checkpoint names the one its attempt ran. */
export const CHECKPOINT_OPERATIONS = ["deploy", "validate", "quick-deploy", "retrieve", "run-tests"] as const;
export const CheckpointOperation = z.enum(CHECKPOINT_OPERATIONS).openapi("CheckpointOperation");
export type CheckpointOperation = z.infer<typeof CheckpointOperation>;

/** What a runner reports: the operation and the id Salesforce gave its job (none: about to submit). */
export const CheckpointFields = z.object({
  operation: CheckpointOperation,
  salesforceId: z
    .string()
    .regex(/^[A-Za-z0-9]{15,18}$/, "a Salesforce id")
    .optional()
    .openapi({ description: "the Salesforce job's id; absent in an intent recorded just before a quick-deploy is submitted" }),
});
export type CheckpointFields = z.infer<typeof CheckpointFields>;

/** The task's last checkpoint, with the attempt that recorded it and when. */
export const Checkpoint = CheckpointFields.extend({ attempt: z.number().int(), at: z.string() }).openapi("Checkpoint");
export type Checkpoint = z.infer<typeof Checkpoint>;

/**
 * A quick-deploy found an intent without an id: an earlier attempt was submitting it when its runner
 * was lost, so whether Salesforce took it is unknown, and it is not submitted a second time.
 */
export const QUICK_DEPLOY_UNCERTAIN = "quick_deploy_uncertain";
/** A quick-deploy's intent did not reach the edge: it was not submitted. */
export const CHECKPOINT_FAILED = "checkpoint_failed";
