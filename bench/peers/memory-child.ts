/**
 * One ridge hypergradient in a fresh process, for the peak-memory rows of the peers benchmark:
 * `node --import tsx bench/peers/memory-child.ts implicit|unrolled K` prints the process's max RSS in MB.
 * The computation is the `ridge_*` workload of workloads.ts (K gradient-descent steps on the diabetes data).
 */
import { ridgeWorkloads } from "./workloads.js";

const [mode, iters] = process.argv.slice(2);
if ((mode !== "implicit" && mode !== "unrolled") || !/^\d+$/.test(iters ?? "")) {
  console.error("usage: memory-child.ts implicit|unrolled K");
  process.exit(2);
}
const w = ridgeWorkloads().find((x) => x.name === `ridge hypergradient, ${mode}, K = ${iters}`);
if (w === undefined) {
  console.error(`memory-child.ts: no ridge workload with K = ${iters} (use 100, 1000 or 10000)`);
  process.exit(2);
}
const value = w.run()[0]!;
if (!Number.isFinite(value)) process.exit(1);
console.log((process.resourceUsage().maxRSS / 1024).toFixed(1));
