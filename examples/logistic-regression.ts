/**
 * A first demo of the autodiff core: the logistic-regression loss on a seeded synthetic data set, with its
 * gradient (checked against central finite differences and the closed form), its Hessian (checked symmetric and
 * against Xᵀ diag(σ(1 − σ)) X / n) and a Hessian-vector product by `hvp` (checked against H v).
 *
 * Run: node --import tsx examples/logistic-regression.ts
 */
import { performance } from "node:perf_hooks";
import { Tensor, div, grad, hessian, hvp, matmul, mul, random, sigmoid, softplus, sub, sum } from "../src/index.js";

const n = 200;
const d = 5;

// A synthetic classification problem: x ~ N(0, I), y ~ Bernoulli(σ(x · wTrue)).
const [kx, kw, ky, kv, k0] = random.split(random.key(2024), 5);
const X = random.normal(kx!, [n, d]);
const wTrue = random.normal(kw!, [d], { std: 2 });
const y = random.bernoulli(ky!, sigmoid(matmul(X, wTrue)), [n]);
const w = random.normal(k0!, [d], { std: 0.5 });
const v = random.normal(kv!, [d]);

/** Mean logistic loss: (1/n) Σ log(1 + exp(zᵢ)) − yᵢ zᵢ with z = X w. */
function loss(weights: Tensor): Tensor {
  const z = matmul(X, weights);
  return div(sum(sub(softplus(z), mul(y, z))), n);
}

/** Times one call of `fn` (after one warm-up call), in milliseconds, and returns its result. */
function timed<T>(fn: () => T): [T, number] {
  fn();
  const start = performance.now();
  const out = fn();
  return [out, performance.now() - start];
}

// --- Autodiff --------------------------------------------------------------------------------------------------
const [value, tValue] = timed(() => loss(w).item());
const [g, tGrad] = timed(() => grad(loss)(w) as Tensor);
const [H, tHess] = timed(() => hessian(loss)(w) as Tensor);
const [Hv, tHvp] = timed(() => hvp(loss, [w], [v])[0] as Tensor);

// --- Independent references, with plain loops ----------------------------------------------------------------
const xs = X.data;
const ys = y.data;
const sig = new Float64Array(n);
let valueClosed = 0;
for (let i = 0; i < n; i++) {
  let z = 0;
  for (let j = 0; j < d; j++) z += xs[i * d + j]! * w.data[j]!;
  sig[i] = 1 / (1 + Math.exp(-z));
  valueClosed += (Math.log1p(Math.exp(z)) - ys[i]! * z) / n;
}
// Gradient Xᵀ(σ − y)/n and Hessian Xᵀ diag(σ(1 − σ)) X / n.
const gClosed = new Float64Array(d);
const hClosed = new Float64Array(d * d);
for (let i = 0; i < n; i++) {
  const r = sig[i]! - ys[i]!;
  const c = sig[i]! * (1 - sig[i]!);
  for (let a = 0; a < d; a++) {
    gClosed[a] += (xs[i * d + a]! * r) / n;
    for (let b = 0; b < d; b++) hClosed[a * d + b] += (xs[i * d + a]! * c * xs[i * d + b]!) / n;
  }
}
// Central finite differences of the loss (step h: error O(h²) + rounding O(ε/h)).
const h = 1e-5;
const gFd = new Float64Array(d);
for (let j = 0; j < d; j++) {
  const plus = w.toFloat64Array();
  const minus = w.toFloat64Array();
  plus[j] += h;
  minus[j] -= h;
  gFd[j] = (loss(new Tensor(plus, [d])).item() - loss(new Tensor(minus, [d])).item()) / (2 * h);
}
const hvClosed = new Float64Array(d);
for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) hvClosed[a] += hClosed[a * d + b]! * v.data[b]!;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
const hT = new Float64Array(d * d);
for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) hT[a * d + b] = H.data[b * d + a]!;

// --- Report ----------------------------------------------------------------------------------------------------
const fmt = (x: number) => (x === 0 ? "0" : x.toExponential(1));
const rows: [string, string, string, number, number, string][] = [
  ["loss value", value.toFixed(6), "closed form", Math.abs(value - valueClosed), 1e-12, `${tValue.toFixed(2)} ms`],
  ["gradient", `[${d}]`, "finite differences", maxAbsDiff(g.data, gFd), 1e-8, `${tGrad.toFixed(2)} ms`],
  ["gradient", `[${d}]`, "Xᵀ(σ − y)/n", maxAbsDiff(g.data, gClosed), 1e-12, ""],
  ["Hessian", `[${d}, ${d}]`, "its transpose", maxAbsDiff(H.data, hT), 1e-12, `${tHess.toFixed(2)} ms`],
  ["Hessian", `[${d}, ${d}]`, "Xᵀ diag(σ(1−σ)) X/n", maxAbsDiff(H.data, hClosed), 1e-12, ""],
  ["hvp(loss, w, v)", `[${d}]`, "H v (closed form)", maxAbsDiff(Hv.data, hvClosed), 1e-12, `${tHvp.toFixed(2)} ms`],
];

console.log(`diffopt demo — logistic regression, n = ${n} samples, d = ${d} features (seeded: random.key(2024))`);
console.log(`labels: ${sum(y).item()} positive of ${n}\n`);
const header = ["quantity", "shape/value", "checked against", "max |error|", "tolerance", "result", "time"];
const table = rows.map(([q, s, ref, err, tol, t]) => [q, s, ref, fmt(err), fmt(tol), err <= tol ? "ok" : "FAIL", t]);
const widths = header.map((hd, j) => Math.max(hd.length, ...table.map((r) => r[j]!.length)));
const line = (r: string[]) =>
  r
    .map((c, j) => c.padEnd(widths[j]!))
    .join("  ")
    .trimEnd();
console.log(line(header));
console.log(widths.map((wd) => "-".repeat(wd)).join("  "));
for (const r of table) console.log(line(r));

console.log(`\ngradient at w: [${[...g.data].map((x) => x.toFixed(5)).join(", ")}]`);
console.log("Hessian at w:");
for (let a = 0; a < d; a++) {
  console.log(`  [${[...H.data.subarray(a * d, (a + 1) * d)].map((x) => x.toFixed(5).padStart(8)).join(", ")}]`);
}

const failures = table.filter((r) => r[5] === "FAIL").length;
if (failures > 0) {
  console.error(`\n${failures} check(s) failed`);
  process.exitCode = 1;
} else {
  console.log("\nall checks passed");
}
