/**
 * A QP layer trained by gradient descent (OptNet's experiment in small), then what the layer reports on
 * infeasible problems, and the sensitivity of an LP's optimal value.
 *
 * The layer maps features z to x*(z) = argmin ½xᵀQx + (Wz)ᵀx s.t. 0 ≤ x ≤ 1, Σx ≤ 1.5, with a learned
 * Q = LLᵀ + 0.1·I and a learned W. Data come from a hidden layer of the same form; both Q (through L) and W are
 * fitted by gradient descent, with gradients computed implicitly through the KKT conditions of each solution.
 *
 * Run: node --import tsx examples/qp-layer.ts
 */
import {
  InteriorPointQP,
  OSQP,
  QPError,
  linearProgram,
  grad,
  random,
  tensor,
  eye,
  ones,
  neg,
  add,
  sub,
  mul,
  sum,
  square,
  matmul,
  concatenate,
  zeros,
  type Tensor,
} from "../src/index.js";

const n = 4;
const features = 3;
// 0 ≤ x ≤ 1 and Σx ≤ 1.5
const G = concatenate([eye(n), neg(eye(n)), ones([1, n])], 0);
const h = concatenate([ones([n]), zeros([n]), tensor([1.5])]);
const layer = (L: Tensor, W: Tensor, z: Tensor, solver: InteriorPointQP | OSQP = new InteriorPointQP()) =>
  solver.run(undefined, { Q: add(matmul(L, L.T), eye(n).mul(0.1)), c: matmul(W, z), G, h }).params.primal;

const keys = random.split(random.key(7), 4);
const Ltrue = add(eye(n), random.normal(keys[0]!, [n, n], { std: 0.3 }));
const Wtrue = random.normal(keys[1]!, [n, features]);
const zs = Array.from({ length: 12 }, (_, i) => random.normal(random.foldIn(keys[2]!, i), [features]));
const targets = zs.map((z) => layer(Ltrue, Wtrue, z));
const loss = (L: Tensor, W: Tensor) =>
  zs.map((z, i) => sum(square(sub(layer(L, W, z), targets[i]!)))).reduce((a, v) => add(a, v));

let L = eye(n);
let W = random.normal(keys[3]!, [n, features], { std: 0.1 });
console.log("fitting the layer by gradient descent (12 problems per step):");
for (let step = 0; step <= 60; step++) {
  const [gL, gW] = grad(loss, { argnums: [0, 1] })(L, W) as Tensor[];
  if (step % 10 === 0) console.log(`  step ${String(step).padStart(2)}  loss ${loss(L, W).item().toExponential(3)}`);
  L = sub(L, mul(0.1, gL!));
  W = sub(W, mul(0.1, gW!));
}

// The solvers agree: OSQP (ADMM, polished) on the learned layer.
const z0 = zs[0]!;
const gap = sub(layer(L, W, z0), layer(L, W, z0, new OSQP()))
  .abs()
  .max()
  .item();
console.log(`\nmax |InteriorPointQP − OSQP| on the learned layer: ${gap.toExponential(2)}`);

// An infeasible layer is reported, not returned: Σx ≥ 5 cannot hold with x ≤ 1.
try {
  new InteriorPointQP().run(undefined, {
    Q: eye(n),
    c: zeros([n]),
    G: concatenate([G, neg(ones([1, n]))], 0),
    h: concatenate([h, tensor([-5])]),
  });
} catch (e) {
  console.log(`infeasible layer: ${(e as QPError).status}`);
}

// The sensitivity of an LP's optimal value: the shadow prices −λ of the resources.
const Glp = tensor([
  [1, 0],
  [0, 2],
  [3, 2],
  [-1, 0],
  [0, -1],
]);
const hlp = tensor([4, 12, 18, 0, 0]);
const profit = tensor([-3, -5]);
const value = (hh: Tensor) => sum(mul(profit, linearProgram(profit, { G: Glp, h: hh }).params.primal));
console.log(
  `\nLP optimum ${value(hlp).item().toFixed(6)}; ∂value/∂h = ${JSON.stringify(
    (grad(value)(hlp).toArray() as number[]).map((v: number) => +v.toFixed(6)),
  )}`,
);
