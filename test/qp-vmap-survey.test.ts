/**
 * Survey: per-example derivatives, `vmap(grad(f))`, around every public solver family's `run` and every projection
 * whose structure depends on the data (a solver inside, or a support that changes), against a JavaScript loop of
 * `grad(f)`, and `grad(vmap(f))` against the same loop. The batches are chosen so that the elements differ in
 * structure where the family has one (sparsity pattern, active bounds, face of the simplex).
 */
import { describe, test } from "node:test";
import {
  AndersonAcceleration,
  AndersonWrapper,
  BFGS,
  Bisection,
  BlockCoordinateDescent,
  BoxOSQP,
  Broyden,
  EqualityConstrainedQP,
  FixedPointIteration,
  GaussNewton,
  GradientDescent,
  InteriorPointQP,
  LBFGS,
  LBFGSB,
  LevenbergMarquardt,
  MirrorDescent,
  Newton,
  NonlinearCG,
  OSQP,
  ProjectedGradient,
  ProximalGradient,
  TrustRegion,
  add,
  concatenate,
  cos,
  eye,
  exp,
  grad,
  linearProgram,
  mul,
  objective,
  projection,
  prox,
  random,
  slice,
  square,
  stack,
  sub,
  sum,
  tensor,
  vdot,
  vmap,
  type Tensor,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

const X = random.normal(random.key(41), [8, 3]);
const y = random.normal(random.key(42), [8]);
const data = [X, y] as const;
const w0 = tensor([0, 0, 0]);
const weights = tensor([1, -2, 0.5]);
/** A smooth loss of a solution, so that every coordinate's derivative matters. */
const outer = (w: Tensor) => add(vdot(weights, w), mul(0.3, sum(square(w))));
/** A strongly convex smooth objective with a batched parameter θ: ridge regression around the point θ. */
const smooth = (w: Tensor, theta: Tensor) => add(objective.leastSquares(w, data), mul(0.5, sum(square(sub(w, theta)))));
const thetas3 = tensor([
  [0.5, -1, 2],
  [0, 0.3, -0.7],
  [3, 1, 0.2],
]);
const rowsOf = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, b) => slice(t, b));

interface Entry {
  name: string;
  /** A scalar loss of one element's θ (through the solver or projection). */
  loss: (theta: Tensor) => Tensor;
  /** The batch, one θ per row (a vector batch for scalar θ). */
  thetas: Tensor;
}

const QG = tensor([
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 1, 1],
]);
const Q0 = tensor([
  [2, 0.5, 0],
  [0.5, 1.5, 0.2],
  [0, 0.2, 1],
]);
const qpCs = tensor([
  [0.1, 0.2, -0.3],
  [-4, 0.3, 0.2],
  [-4, -4, 0.1],
]);
const h0 = tensor([1, 1, 1, 1.5]);

const entries: Entry[] = [
  {
    name: "GradientDescent (ridge over λ)",
    loss: (l) =>
      outer(new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-11, maxIter: 5000 }).run(w0, l, data).params),
    thetas: tensor([0.01, 0.3, 3]),
  },
  {
    name: "ProximalGradient (lasso over λ: different supports)",
    loss: (l) =>
      outer(
        new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-12, maxIter: 20000 }).run(
          w0,
          l,
          data,
        ).params,
      ),
    thetas: tensor([0.01, 0.8, 2]),
  },
  {
    name: "ProximalGradient (lasso over the scale of the data: different step sizes)",
    loss: (s) =>
      outer(
        new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-12, maxIter: 20000 }).run(
          w0,
          tensor(0.5),
          [mul(X, s), y],
        ).params,
      ),
    thetas: tensor([0.3, 1, 4]),
  },
  {
    name: "BlockCoordinateDescent (lasso over the scale of the data: different Lipschitz constants)",
    loss: (s) =>
      outer(
        new BlockCoordinateDescent({
          fun: objective.leastSquares,
          blockProx: prox.lasso,
          tol: 1e-12,
          maxIter: 20000,
        }).run(w0, tensor(0.5), [mul(X, s), y]).params,
      ),
    thetas: tensor([0.3, 1, 4]),
  },
  {
    name: "ProjectedGradient (simplex of radius r: different faces)",
    loss: (r) =>
      outer(
        new ProjectedGradient({
          fun: objective.leastSquares,
          projection: projection.simplex,
          tol: 1e-12,
          maxIter: 20000,
        }).run(tensor([0.2, 0.2, 0.2]), r, data).params,
      ),
    thetas: tensor([0.5, 2, 8]),
  },
  {
    name: "MirrorDescent (KL on the simplex over c)",
    loss: (c) =>
      outer(
        new MirrorDescent({
          fun: (x: Tensor, c: Tensor) => mul(0.5, sum(square(sub(x, c)))),
          stepsize: 1,
          tol: 1e-12,
          maxIter: 20000,
        }).run(tensor([1 / 3, 1 / 3, 1 / 3]), c).params,
      ),
    thetas: tensor([
      [0.6, 0.5, -0.2],
      [0.2, 0.3, 0.4],
      [1, -1, 0.5],
    ]),
  },
  {
    name: "BlockCoordinateDescent (lasso over λ)",
    loss: (l) =>
      outer(
        new BlockCoordinateDescent({
          fun: objective.leastSquares,
          blockProx: prox.lasso,
          tol: 1e-12,
          maxIter: 20000,
        }).run(w0, l, data).params,
      ),
    thetas: tensor([0.01, 0.8, 2]),
  },
  ...(
    [
      ["LBFGS", () => new LBFGS({ fun: smooth, tol: 1e-11 })],
      ["BFGS", () => new BFGS({ fun: smooth, tol: 1e-11 })],
      ["NonlinearCG", () => new NonlinearCG({ fun: smooth, tol: 1e-11, maxIter: 2000 })],
      ["Newton", () => new Newton({ fun: smooth, tol: 1e-11 })],
      ["TrustRegion", () => new TrustRegion({ fun: smooth, tol: 1e-11 })],
    ] as const
  ).map(([name, make]) => ({
    name: `${name} (over the point θ)`,
    loss: (t: Tensor) => outer(make().run(w0, t).params),
    thetas: thetas3,
  })),
  {
    name: "LBFGSB (upper bounds: different active bounds)",
    loss: (u) =>
      outer(new LBFGSB({ fun: smooth, tol: 1e-11 }).run(w0, [tensor([-5, -5, -5]), u], tensor([0.5, -1, 2])).params),
    thetas: tensor([
      [5, 5, 5], // inside (the solution is ≈ [−0.07, −0.86, 1.59])
      [-0.2, 5, 5], // x₀ at its bound
      [5, -1, 1], // x₁ and x₂ at theirs
    ]),
  },
  ...(
    [
      ["GaussNewton", () => new GaussNewton({ residualFun: expResiduals, tol: 1e-11 })],
      ["LevenbergMarquardt", () => new LevenbergMarquardt({ residualFun: expResiduals, tol: 1e-11 })],
    ] as const
  ).map(([name, make]) => ({
    name: `${name} (exponential fit over the data)`,
    loss: (ys: Tensor) => outer(concatenate([make().run(tensor([1, 0]), ys).params, tensor([0])])),
    thetas: tensor([
      [2, 1.3, 0.7, 0.5],
      [1, 1.5, 2.1, 3.2],
      [3, 1, 0.4, 0.1],
    ]),
  })),
  {
    name: "Bisection (cube root over a)",
    loss: (a) =>
      new Bisection({
        optimalityFun: (x: Tensor, a: Tensor) => sub(mul(mul(x, x), x), a),
        lower: 0,
        upper: 10,
        tol: 1e-13,
      }).run(undefined, a).params,
    thetas: tensor([0.5, 8, 27]),
  },
  {
    name: "Broyden (x² = a)",
    loss: (a) =>
      outer(
        new Broyden({ fun: (x: Tensor, a: Tensor) => sub(mul(x, x), a), tol: 1e-12 }).run(tensor([1, 1, 1]), a).params,
      ),
    thetas: tensor([
      [4, 9, 1],
      [1, 2, 3],
      [0.5, 7, 2],
    ]),
  },
  ...(
    [
      ["FixedPointIteration", () => new FixedPointIteration({ fixedPointFun: cosMap, tol: 1e-13, maxIter: 5000 })],
      ["AndersonAcceleration", () => new AndersonAcceleration({ fixedPointFun: cosMap, tol: 1e-13, maxIter: 5000 })],
    ] as const
  ).map(([name, make]) => ({
    name: `${name} (x = cos(θx))`,
    loss: (t: Tensor) => outer(make().run(tensor([0, 0, 0]), t).params),
    thetas: tensor([
      [1, 0.5, 0.8],
      [0.2, 1.1, 0.6],
      [0.9, 0.3, 1.2],
    ]),
  })),
  {
    name: "AndersonWrapper (around GradientDescent, over λ)",
    loss: (l) =>
      outer(
        new AndersonWrapper({
          solver: new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.01, tol: 1e-11, maxIter: 20000 }),
          historySize: 5,
        }).run(w0, l, data).params,
      ),
    thetas: tensor([0.01, 0.3, 3]),
  },
  ...(
    [
      ["InteriorPointQP", () => new InteriorPointQP()],
      ["OSQP", () => new OSQP({ tol: 1e-10 })],
    ] as const
  ).map(([name, make]) => ({
    name: `${name} (over c: different active sets)`,
    loss: (c: Tensor) => outer(make().run(undefined, { Q: Q0, c, G: QG, h: h0 }).params.primal),
    thetas: qpCs,
  })),
  {
    name: "BoxOSQP (over c: different active sides)",
    loss: (c) =>
      outer(
        new BoxOSQP({ tol: 1e-10 }).run(undefined, {
          Q: Q0,
          c,
          A: eye(3),
          l: tensor([-1, -1, -1]),
          u: tensor([1, 1, 1]),
        }).params.primal,
      ),
    thetas: tensor([
      [0.1, 0.2, -0.3],
      [-4, 0.3, 0.2],
      [4, 0.3, -5],
    ]),
  },
  {
    name: "EqualityConstrainedQP (over b)",
    loss: (b) =>
      outer(
        new EqualityConstrainedQP().run(undefined, { Q: Q0, c: tensor([1, 0, -1]), A: tensor([[1, 1, 1]]), b }).params
          .primal,
      ),
    thetas: tensor([[0.5], [-1], [3]]),
  },
  {
    name: "linearProgram (over c: different vertices)",
    loss: (c) =>
      vdot(
        tensor([1, 2, 3, 4, 5]),
        linearProgram(c, {
          G: tensor([
            [1, 1],
            [1, 0],
            [-1, 0],
            [0, -1],
            [1, 2],
          ]),
          h: tensor([4, 3, 0, 0, 6]),
        }).params.dualIneq!,
      ),
    thetas: tensor([
      [-1, -3],
      [-2, -1],
      [-1, -1.5],
    ]),
  },
  {
    name: "projection.polyhedron (over x: different faces)",
    loss: (x) =>
      outer(
        concatenate([
          projection.polyhedron(x, {
            G: tensor([
              [-1, 0],
              [0, -1],
              [1, 1],
            ]),
            h: tensor([0, 0, 1]),
          }),
          tensor([0]),
        ]),
      ),
    thetas: tensor([
      [0.2, 0.3],
      [1, 0.5],
      [-1, 0.5],
    ]),
  },
  {
    name: "projection.transport (over the cost)",
    loss: (c) => outer(slice(projection.transport(c, tensor([0.2, 0.3, 0.5]), tensor([0.4, 0.6])), null, 0)),
    thetas: random.normal(random.key(43), [3, 3, 2]),
  },
  {
    name: "projection.birkhoff (over the scores)",
    loss: (c) => outer(slice(projection.birkhoff(c), 0)),
    thetas: random.normal(random.key(44), [3, 3, 3]),
  },
  {
    name: "projection.isotonic (over y: different blocks)",
    loss: (v) => outer(projection.isotonic(v)),
    thetas: tensor([
      [1, 2, 3],
      [3, 2, 1],
      [1, 3, 2],
    ]),
  },
];

function expResiduals(theta: Tensor, ys: Tensor): Tensor {
  const t = tensor([0, 1, 2, 3]);
  return sub(mul(slice(theta, 0), exp(mul(slice(theta, 1), t))), ys);
}

function cosMap(x: Tensor, theta: Tensor): Tensor {
  return cos(mul(x, theta));
}

describe("vmap(grad(f)) around every solver family and data-dependent projection, against a loop", () => {
  for (const e of entries) {
    test(e.name, () => {
      const loop = stack(rowsOf(e.thetas).map((t) => grad(e.loss)(t)));
      const tol = { rtol: 1e-9, atol: 1e-10 };
      assertClose(vmap(grad(e.loss))(e.thetas), loop, tol, "vmap(grad)");
      assertClose(grad((T: Tensor) => sum(vmap(e.loss)(T)))(e.thetas), loop, tol, "grad(vmap)");
    });
  }
});
