/**
 * Side by side with the peers: the same workloads in diffopt, PyTorch and NumPy/SciPy, on the same data, with the
 * same values checked, timed in one run on this machine (`npm run bench -- peers`).
 *
 * Why one run, interleaved: the machine is shared and noisy, so only ratios measured together mean something. The
 * data is generated once here (seeded) and written as raw float64 files; `bench/peers/peers.py` (run with
 * `/usr/bin/python3`, one thread for every library) reads it and stays up to time, on request, the same computation
 * with the same batch-median timer, returning its timings and the values it computed, which must agree with
 * diffopt's. Each workload is timed in rounds (`DIFFOPT_PEERS_ROUNDS`, default 3), each round PyTorch, NumPy/SciPy
 * and diffopt back to back, so that a change of load between them moves every column of a round alike; a row
 * reports the median time of each library, the median of the per-round ratios and, in brackets, their range.
 * Times are process CPU time by default (`DIFFOPT_PEERS_CLOCK=cpu`; `wall` for wall time): every computation timed
 * here is single-threaded, so on an idle machine the two agree, while on an oversubscribed one wall time mostly
 * measures the wait for a core. CPU time counts every thread of the process (V8's garbage-collector helpers too).
 *
 * Peers: Debian's `python3-torch`, `python3-numpy` and `python3-scipy` (`apt-get install -y python3-torch
 * python3-scipy`). A missing peer leaves its column empty; the diffopt column is always measured.
 *
 * The table ends with peak memory (max RSS of a fresh process) of one ridge hypergradient, implicit versus
 * unrolled, as the inner iterations grow: the implicit one must stay flat. Everything is written to
 * `reports/bench-peers.json`.
 *
 * `DIFFOPT_PEERS_ONLY=ridge,equilibrium npm run bench -- peers` keeps only the rows whose name contains one of the
 * comma-separated words (same data, same seeds) and skips the memory table, to re-measure a few rows quickly.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { workloads, type Workload } from "./peers/workloads.js";
import { cpuClock, formatTime, printTable, timeIt } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const PYTHON = process.env.DIFFOPT_PEERS_PYTHON ?? "/usr/bin/python3";

/** What peers.py reports for one workload and one library. */
interface PeerTiming {
  seconds: number;
  check: number[];
}

/** Largest relative difference between two check vectors (scaled by the largest magnitude of `ref`). */
function checkDiff(a: readonly number[], ref: readonly number[]): number {
  if (a.length !== ref.length) return Infinity;
  const scale = Math.max(1e-300, ...ref.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - ref[i]!) / scale);
  return worst;
}

/** Writes every workload's arrays as raw little-endian float64 files plus a manifest for peers.py. */
function writeData(dir: string, list: readonly Workload[]): string {
  const manifest = list.map((w) => ({
    name: w.name,
    kind: w.kind,
    params: w.params,
    arrays: Object.fromEntries(
      Object.entries(w.arrays).map(([key, t]) => {
        const file = join(dir, `${w.name.replace(/[^A-Za-z0-9]+/g, "_")}-${key}.f64`);
        writeFileSync(file, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        return [key, { file, shape: t.shape }];
      }),
    ),
  }));
  const path = join(dir, "manifest.json");
  writeFileSync(path, JSON.stringify(manifest));
  return path;
}

type PeerAnswer = PeerTiming | { error: string } | null;
type Library = "torch" | "numpy";

/**
 * The running peers.py: `ask` has it time one workload in one library and resolves with its answer (a string when
 * the process is not available or has died: the peer columns then stay empty).
 */
class Peers {
  private readonly pending: ((line: string | null) => void)[] = [];
  private failure: string | null = null;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (line) => this.pending.shift()?.(line));
    const fail = (why: string) => {
      this.failure ??= why;
      for (const resolve of this.pending.splice(0)) resolve(null);
    };
    child.on("error", (e) => fail(`peers.py failed: ${e.message}`));
    child.on("exit", (code) => fail(`peers.py exited (${code})`));
  }

  static start(manifest: string): Peers | string {
    if (!existsSync(PYTHON)) return `${PYTHON} not found`;
    return new Peers(
      spawn(PYTHON, [join(here, "peers", "peers.py"), manifest], {
        // One thread everywhere: diffopt is single-threaded, and the machine has 2 cores shared with others.
        env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
        stdio: ["pipe", "pipe", "inherit"],
      }),
    );
  }

  ask(name: string, lib: Library): Promise<PeerAnswer | string> {
    if (this.failure !== null) return Promise.resolve(this.failure);
    return new Promise((resolve) => {
      this.pending.push((line) => resolve(line === null ? this.failure! : (JSON.parse(line) as PeerAnswer)));
      this.child.stdin!.write(`${JSON.stringify({ name, lib })}\n`);
    });
  }

  close(): void {
    this.child.stdin!.end();
  }
}

/** Peak RSS in MB of a fresh process computing one ridge hypergradient with `iters` inner iterations. */
function peakMemory(mode: "implicit" | "unrolled", iters: number): number {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", join(here, "peers", "memory-child.ts"), mode, String(iters)],
    { encoding: "utf8", cwd: root },
  );
  return Number(out.trim());
}

function peerPeakMemory(mode: "implicit" | "unrolled", iters: number): number | undefined {
  if (!existsSync(PYTHON)) return undefined;
  try {
    const out = execFileSync(PYTHON, [join(here, "peers", "peers.py"), "--memory", mode, String(iters)], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
      stdio: ["ignore", "pipe", "ignore"],
    });
    return Number(out.trim());
  } catch {
    return undefined;
  }
}

/** The rows kept by `DIFFOPT_PEERS_ONLY` (all rows when it is unset). */
function selected(list: Workload[]): Workload[] {
  const words = (process.env.DIFFOPT_PEERS_ONLY ?? "").split(",").filter((w) => w.trim() !== "");
  return words.length === 0 ? list : list.filter((w) => words.some((word) => w.name.includes(word.trim())));
}

const median = (v: readonly number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function run(): Promise<void> {
  const list = selected(workloads());
  const rounds = Number(process.env.DIFFOPT_PEERS_ROUNDS ?? 3);
  const clockName = process.env.DIFFOPT_PEERS_CLOCK ?? "cpu";
  if (clockName !== "cpu" && clockName !== "wall") throw new Error("DIFFOPT_PEERS_CLOCK must be cpu or wall");
  const clock = clockName === "cpu" ? cpuClock : undefined;
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error("DIFFOPT_PEERS_ROUNDS must be a positive integer");
  const dir = mkdtempSync(join(tmpdir(), "diffopt-peers-"));
  const rows: string[][] = [];
  const json: Record<string, unknown>[] = [];
  const peers = Peers.start(writeData(dir, list));
  try {
    if (typeof peers === "string") console.log(`peers unavailable (${peers}); diffopt only`);
    let unavailable = typeof peers === "string";
    for (const w of list) {
      const check = w.run();
      const ours: number[] = [];
      const theirs: Record<Library, PeerAnswer[]> = { torch: [], numpy: [] };
      for (let round = 0; round < rounds; round++) {
        for (const lib of ["torch", "numpy"] as const) {
          if (typeof peers === "string") continue;
          const answer = await peers.ask(w.name, lib);
          if (typeof answer === "string") {
            if (!unavailable) console.log(`peers unavailable (${answer}); diffopt only from here`);
            unavailable = true;
          } else theirs[lib].push(answer);
        }
        // A long first warm-up: the first rows would otherwise be timed while V8 still compiles the shared code.
        const warmup = round === 0 ? 0.5 : 0.05;
        ours.push(timeIt(w.timed ?? w.run, { minTime: w.minTime ?? 0.3, minBatches: 3, warmup, clock }).median);
      }
      const perOp = w.perOp ?? 1;
      const t = median(ours) / perOp;
      const entry: Record<string, unknown> = { name: w.name, diffopt: { seconds: t, rounds: ours }, target: w.target };
      const cells: string[] = [w.name, formatTime(t)];
      for (const lib of ["torch", "numpy"] as const) {
        const answers = theirs[lib];
        const failed = answers.find((a) => a !== null && "error" in a);
        const timings = answers.filter((a): a is PeerTiming => a !== null && !("error" in a));
        if (failed !== undefined || timings.length === 0) {
          cells.push("", "");
          if (failed !== undefined) entry[lib] = failed;
          continue;
        }
        const pt = median(timings.map((a) => a.seconds)) / perOp;
        const ratios = timings.map((a, i) => ours[i]! / a.seconds);
        const r = median(ratios);
        const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : "";
        const diff = checkDiff(check, timings[0]!.check);
        const agrees = diff <= w.tol;
        cells.push(
          formatTime(pt),
          `${r.toFixed(2)}×${range}${agrees ? "" : ` (values differ ${diff.toExponential(1)})`}`,
        );
        entry[lib] = { seconds: pt, ratio: r, ratios, valueDiff: diff, agrees };
      }
      const torch = entry.torch as { ratio?: number } | undefined;
      const verdict =
        w.target === undefined || torch?.ratio === undefined ? "" : torch.ratio <= w.target ? "ok" : "MISS";
      cells.push(w.target === undefined ? "" : `≤ ${w.target}×`, verdict);
      rows.push(cells);
      json.push(entry);
    }
  } finally {
    if (typeof peers !== "string") peers.close();
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(
    `diffopt against PyTorch and NumPy/SciPy (float64, one thread; time per call, per op for the small-op rows; ${clockName} time, median of ${rounds} interleaved rounds, ratio range in brackets)`,
    ["workload", "diffopt", "torch", "diffopt/torch", "numpy/scipy", "diffopt/numpy", "target", "status"],
    rows,
  );

  if (process.env.DIFFOPT_PEERS_ONLY) return;
  const memRows: string[][] = [];
  const memory: Record<string, unknown>[] = [];
  for (const iters of [100, 1000, 10000]) {
    const imp = peakMemory("implicit", iters);
    const unr = peakMemory("unrolled", iters);
    const tImp = peerPeakMemory("implicit", iters);
    const tUnr = peerPeakMemory("unrolled", iters);
    memory.push({ iters, diffopt: { implicit: imp, unrolled: unr }, torch: { implicit: tImp, unrolled: tUnr } });
    const mb = (v: number | undefined) => (v === undefined ? "" : `${v.toFixed(0)} MB`);
    memRows.push([String(iters), mb(imp), mb(unr), mb(tImp), mb(tUnr)]);
  }
  printTable(
    "Peak memory (max RSS of a fresh process) of one ridge hypergradient (diabetes, 300 × 10) vs inner iterations",
    ["iterations", "diffopt implicit", "diffopt unrolled", "torch implicit", "torch unrolled"],
    memRows,
  );

  const reports = join(root, "reports");
  mkdirSync(reports, { recursive: true });
  writeFileSync(
    join(reports, "bench-peers.json"),
    JSON.stringify(
      { date: new Date().toISOString(), node: process.version, clock: clockName, rounds, workloads: json, memory },
      null,
      2,
    ),
  );
  console.log("\nwritten to reports/bench-peers.json");
}
