/**
 * A deep-equilibrium layer z* = tanh(W z* + U x) solved by three solvers (plain fixed-point iteration, Anderson
 * acceleration, Broyden), its gradient with respect to W and x by implicit differentiation (checked against finite
 * differences), and the unrolled gradient approaching the implicit one as iterations grow. Then a training loop:
 * a few steps of gradient descent on W so that the equilibrium matches a target.
 *
 * Run: node --import tsx examples/deq-fixed-point.ts
 */
import {
  AndersonAcceleration,
  Broyden,
  FixedPointIteration,
  random,
  tensor,
  tanh,
  add,
  sub,
  matmul,
  sum,
  square,
  grad,
  type Tensor,
} from "../src/index.js";

const n = 16;
const [wKey, uKey, xKey, tKey] = random.split(random.key(42), 4);
// ‖W‖ ≈ 1.1 and a small input (tanh near its linear part): a slow contraction, where acceleration pays off
const W0 = random.normal(wKey, [n, n]).mul(1.1 / (2 * Math.sqrt(n)));
const U = random.normal(uKey, [n, 4]);
const x = random.normal(xKey, [4]).mul(0.1);
const target = tanh(random.normal(tKey, [n]));
const z0 = tensor(new Float64Array(n));

const layer = (z: Tensor, W: Tensor, xv: Tensor) => tanh(add(matmul(W, z), matmul(U, xv)));
const residual = (z: Tensor, W: Tensor, xv: Tensor) => sub(layer(z, W, xv), z);

const solvers = [
  new FixedPointIteration({ fixedPointFun: layer, tol: 1e-10, maxIter: 2000 }),
  new AndersonAcceleration({ fixedPointFun: layer, historySize: 5, tol: 1e-10 }),
  new Broyden({ fun: residual, tol: 1e-10 }),
];

const loss = (z: Tensor) => sum(square(sub(z, target))).mul(0.5);

console.log("solver                 iterations  time (ms)  ‖∂loss/∂x‖");
let reference: Tensor | null = null;
for (const s of solvers) {
  const t0 = performance.now();
  const { state } = s.run(z0, W0, x);
  const gx = grad((xv: Tensor) => loss(s.run(z0, W0, xv).params))(x) as Tensor;
  const ms = performance.now() - t0;
  reference ??= gx;
  const norm = Math.hypot(...gx.data);
  console.log(
    `${s.name.padEnd(22)} ${String(state.iterNum).padStart(10)} ${ms.toFixed(1).padStart(10)}  ${norm.toFixed(10)}`,
  );
}

// Finite differences of re-solved problems, one coordinate of x
const eps = 1e-6;
const e0 = tensor([1, 0, 0, 0]).mul(eps);
const solve = (xv: Tensor) => solvers[1]!.run(z0, W0, xv).params as Tensor;
const fd = (loss(solve(x.add(e0))).item() - loss(solve(x.sub(e0))).item()) / (2 * eps);
console.log(`\n∂loss/∂x₀: implicit ${reference!.data[0]!.toFixed(10)}, finite differences ${fd.toFixed(10)}`);

console.log("\nunrolled FixedPointIteration: max |unrolled − implicit| of ∂loss/∂x");
for (const k of [5, 20, 80, 320]) {
  const unrolled = new FixedPointIteration({ fixedPointFun: layer, implicitDiff: false, maxIter: k, tol: 0 });
  const g = grad((xv: Tensor) => loss(unrolled.run(z0, W0, xv).params))(x) as Tensor;
  console.log(`  ${String(k).padStart(4)} iterations: ${Math.max(...g.sub(reference!).abs().data).toExponential(2)}`);
}

// Training W by gradient descent through the equilibrium (implicit gradients, Anderson forward solves)
let W = W0;
const anderson = solvers[1]!;
const objective = (Wm: Tensor) => loss(anderson.run(z0, Wm, x).params);
console.log(`\ntraining W: loss ${objective(W).item().toFixed(6)}`);
for (let step = 1; step <= 20; step++) {
  W = W.sub((grad(objective)(W) as Tensor).mul(0.1));
  if (step % 5 === 0) console.log(`  step ${step}: loss ${objective(W).item().toFixed(6)}`);
}
