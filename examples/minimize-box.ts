/**
 * Box constraints with `LBFGSB`: non-negative least squares with an upper cap, the active set of the solution,
 * and the derivative of the solution with respect to the data and to the bounds (by implicit differentiation of
 * the projected-gradient fixed point) against finite differences of re-solved problems.
 *
 * Run: node --import tsx examples/minimize-box.ts
 */
import { LBFGSB, jacrev, matmul, random, square, sub, sum, tensor, zeros, type Tensor } from "../src/index.js";

const [ka, kb] = random.split(random.key(11), 2);
const A = random.normal(ka!, [30, 8]);
const b = random.normal(kb!, [30]).mul(2);
const fun = (x: Tensor, b: Tensor) => sum(square(sub(matmul(A, x), b))).mul(0.5);
const lower = zeros([8]);
const upper = tensor(new Float64Array(8).fill(0.3));
const solver = new LBFGSB({ fun, tol: 1e-11 });
const { params, state } = solver.run(zeros([8]), [lower, upper], b);
const x = params as Tensor;
console.log(
  `LBFGSB: ${state.status} in ${state.iterNum} iterations, ‖x − P(x − ∇f)‖ = ${state.error.toExponential(1)}`,
);
console.log(`x = [${[...x.data].map((v) => v.toFixed(4)).join(", ")}]`);
const active = [...x.data].map((v) => (v <= 1e-9 ? "lower" : v >= 0.3 - 1e-9 ? "upper" : "free"));
console.log(`active set: ${active.join(", ")}`);

const byUpper = jacrev((u: Tensor) => solver.run(zeros([8]), [lower, u], b).params as Tensor)(upper) as Tensor;
const h = 1e-6;
let maxErr = 0;
for (let j = 0; j < 8; j++) {
  const e = new Float64Array(8);
  e[j] = h;
  const plus = solver.run(zeros([8]), [lower, upper.add(tensor(e))], b).params as Tensor;
  const minus = solver.run(zeros([8]), [lower, upper.sub(tensor(e))], b).params as Tensor;
  for (let i = 0; i < 8; i++)
    maxErr = Math.max(maxErr, Math.abs((plus.data[i]! - minus.data[i]!) / (2 * h) - byUpper.data[i * 8 + j]!));
}
console.log(
  `∂x/∂upper: diagonal [${Array.from({ length: 8 }, (_, i) => byUpper.data[i * 9]!.toFixed(3)).join(", ")}] (1 where the cap binds)`,
);
console.log(`  max |implicit − finite differences| over the 8×8 Jacobian: ${maxErr.toExponential(1)}`);
const byData = jacrev((bb: Tensor) => solver.run(zeros([8]), [lower, upper], bb).params as Tensor)(b) as Tensor;
const rows = [...Array(8).keys()].filter((i) => active[i] !== "free");
console.log(
  `∂x/∂b is zero on the ${rows.length} active coordinates: ${rows.every((i) => byData.data.slice(i * 30, (i + 1) * 30).every((v) => v === 0))}`,
);
