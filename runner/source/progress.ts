// Turns git's progress output (lines redrawn with \r) into a few progress messages: each phase at
// every tenth of the way, and git's summary lines.
const PHASE = /^(Receiving objects|Resolving deltas|Updating files):\s+(\d+)%/;
const SUMMARY = /^remote: Total \d+|^From /;

export function gitProgress(emit: (line: string) => void): (chunk: string) => void {
  let partial = "";
  const lastTenth = new Map<string, number>();
  return (chunk) => {
    const lines = (partial + chunk).split(/[\r\n]/);
    partial = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.trim();
      const phase = PHASE.exec(line);
      if (phase) {
        const tenth = Math.floor(Number(phase[2]) / 10);
        if (tenth === lastTenth.get(phase[1])) continue;
        lastTenth.set(phase[1], tenth);
        emit(line.replace(/,\s*done\.$/, ""));
      } else if (SUMMARY.test(line)) {
        emit(line);
      }
    }
  };
}
