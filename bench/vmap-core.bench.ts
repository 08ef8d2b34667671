/**
 * vmap core benchmark: per-example gradients of logistic regression (batch 1000, d = 100) with
 * `vmap(grad(loss), { inAxes: [null, 0, 0] })` against a JavaScript loop of `grad` calls over the rows, and a
 * full Jacobian by `jacrev` (one batched backward pass) against the loop of pullbacks it replaces.
 */
import { Tensor, grad, jacrev, mul, neg, random, softplus, stack, sum, tanh, vjp, vmap } from "../src/index.js";
import { formatTime, printTable, timeIt, verdict } from "./util.js";

/** vmap must beat the loop by at least this factor (the loop runs ~10 small ops per row). */
const SPEEDUP_TARGET = 5;

function perExampleGradients(): string[][] {
  const n = 1000;
  const d = 100;
  const [kx, ky, kw] = random.split(random.key(3), 3);
  const X = random.normal(kx!, [n, d]);
  const y = random.bernoulli(ky!, 0.5, [n]).mul(2).sub(1);
  const w = random.normal(kw!, [d]);
  // logistic loss log(1 + exp(−y·⟨w, x⟩)) of one example
  const loss = (v: Tensor, x: Tensor, t: Tensor) => softplus(neg(mul(t, sum(mul(v, x)))));
  const perExample = vmap(grad(loss), { inAxes: [null, 0, 0] });
  const rows = Array.from({ length: n }, (_, i) => [X.slice(i), y.slice(i)] as const);
  const g = grad(loss);
  const loop = () => stack(rows.map(([x, t]) => g(w, x, t)));
  const tv = timeIt(() => perExample(w, X, y), { minBatches: 5 }).median;
  const tl = timeIt(loop, { minBatches: 3 }).median;
  return [
    [`per-example grads, logistic regression ${n}×${d}: vmap`, formatTime(tv), "", ""],
    [
      "  loop of grad over rows",
      formatTime(tl),
      `vmap ≥ ${SPEEDUP_TARGET}× faster`,
      verdict(tl / tv >= SPEEDUP_TARGET),
    ],
    ["  speed-up", `${(tl / tv).toFixed(1)}×`, "", ""],
  ];
}

function jacobianRows(): string[][] {
  const n = 200;
  const x = random.normal(random.key(4), [n]);
  const f = (v: Tensor) => tanh(mul(v, sum(v)));
  const tj = timeIt(() => jacrev(f)(x), { minBatches: 3 }).median;
  const tl = timeIt(
    () => {
      const [, pull] = vjp(f, x);
      const eye = Array.from({ length: n }, (_, k) => {
        const e = new Float64Array(n);
        e[k] = 1;
        return new Tensor(e, [n]);
      });
      return stack(eye.map((e) => pull(e)[0]));
    },
    { minBatches: 3 },
  ).median;
  return [
    [`jacrev of tanh(x·Σx), ${n}→${n}: batched pullback`, formatTime(tj), "", ""],
    ["  loop of pullbacks", formatTime(tl), "", ""],
    ["  speed-up", `${(tl / tj).toFixed(1)}×`, "", ""],
  ];
}

/** Runs the vmap core benchmark and prints its table. */
export async function run(): Promise<void> {
  printTable(
    "vmap against the JavaScript loop it replaces",
    ["quantity", "time", "target", "status"],
    [...perExampleGradients(), ...jacobianRows()],
  );
}
