// A job heartbeat's sample of its worker (issue 16): the task keeps its peak CPU and RSS on its
// record (no event, no version: a sample is a gauge, not a change) and its sockets get a `resources`
// message with the sample and the peaks.
import type { JobSample, ServerMessage, Task } from "../protocol/index.ts";
import { nowIso } from "./sql.ts";

export function withSample(task: Task, sample: JobSample, now = Date.now()): { task: Task; message: ServerMessage } {
  const at = nowIso(now);
  const peakCpuPercent = Math.max(task.resources?.peakCpuPercent ?? 0, sample.cpuPercent);
  const peakMemoryRssBytes = Math.max(task.resources?.peakMemoryRssBytes ?? 0, sample.memoryRssBytes);
  return {
    task: { ...task, resources: { peakCpuPercent, peakMemoryRssBytes, at } },
    message: {
      type: "resources",
      taskId: task.id,
      at,
      cpuPercent: sample.cpuPercent,
      memoryRssBytes: sample.memoryRssBytes,
      peakCpuPercent,
      peakMemoryRssBytes,
    },
  };
}
