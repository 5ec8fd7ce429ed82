// A runner's load as a small inline SVG: CPU % (blue) and resident memory (green) over its last samples.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 120;
const HEIGHT = 28;
export const MAX_SAMPLES = 60;

function line(values, max, cls) {
  const poly = document.createElementNS(SVG, "polyline");
  const step = values.length > 1 ? WIDTH / (values.length - 1) : 0;
  poly.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(HEIGHT - 1 - (Math.min(v, max) / max) * (HEIGHT - 2)).toFixed(1)}`).join(" "));
  poly.setAttribute("class", cls);
  return poly;
}

/** `samples`: [{cpu, mem, via}] oldest first; `memMax`: the memory scale (a cgroup limit when known). */
export function sparkline(samples, memMax) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", String(WIDTH));
  svg.setAttribute("height", String(HEIGHT));
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("role", "img");
  svg.dataset.points = String(samples.length);
  svg.dataset.feedPoints = String(samples.filter((s) => s.via === "feed").length);
  const last = samples[samples.length - 1];
  const title = document.createElementNS(SVG, "title");
  title.textContent = last ? `CPU ${Math.round(last.cpu)}%, ${Math.round(last.mem / 1048576)} MiB (${samples.length} samples)` : "no samples yet";
  svg.append(title);
  if (samples.length === 0) return svg;
  const cpuMax = Math.max(100, ...samples.map((s) => s.cpu));
  const memScale = memMax || Math.max(1, ...samples.map((s) => s.mem)) * 1.1;
  svg.append(
    line(
      samples.map((s) => s.mem),
      memScale,
      "mem",
    ),
    line(
      samples.map((s) => s.cpu),
      cpuMax,
      "cpu",
    ),
  );
  return svg;
}
