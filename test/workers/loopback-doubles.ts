// Vitest global setup of the `workers` project, run in Node: starts the loopback doubles that code
// inside workerd sends to (the Standard Webhooks receiver, the GitHub and GitLab status APIs) and
// provides their URLs to the tests (`inject("receiverUrl")`…). Each test uses keys of its own.
import type { TestProject } from "vitest/node";
import { startStatusApis } from "../doubles/commit-status-apis.ts";
import { startWebhookReceiver } from "../doubles/webhook-receiver.ts";

declare module "vitest" {
  export interface ProvidedContext {
    receiverUrl: string;
    githubUrl: string;
    gitlabUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const receiver = await startWebhookReceiver();
  const apis = await startStatusApis();
  project.provide("receiverUrl", receiver.url);
  project.provide("githubUrl", apis.githubUrl);
  project.provide("gitlabUrl", apis.gitlabUrl);
  return async () => {
    await receiver.close();
    await apis.close();
  };
}
