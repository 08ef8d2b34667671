/**
 * The registered experiments as a list, in the order of their names (stable, whatever the order of the exports
 * in ./experiments/index.ts). Every export must be an `Experiment` with a unique name.
 */
import type { Experiment } from "./experiment.js";
import * as registered from "./experiments/index.js";

function isExperiment(v: unknown): v is Experiment {
  const e = v as Experiment;
  return typeof e === "object" && e !== null && typeof e.name === "string" && typeof e.run === "function";
}

function collect(): Experiment[] {
  const list = Object.entries(registered as Record<string, unknown>).map(([key, value]) => {
    if (!isExperiment(value)) throw new Error(`paper/experiments/index.ts: export ${key} is not an Experiment`);
    return value;
  });
  const names = list.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`paper/experiments/index.ts: two experiments are named "${dup}"`);
  return list.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Every registered experiment. */
export const experiments: Experiment[] = collect();
