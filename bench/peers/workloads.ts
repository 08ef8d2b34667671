/**
 * The workloads of the side-by-side benchmark, on diffopt's side: each carries its data (written for the peers),
 * the diffopt computation and the values it checks (`run` returns them), the tolerance on those values and the
 * target ratio against PyTorch from issue 13. `bench/peers/peers.py` implements the same `kind`s.
 */
import {
  add,
  customFixedPoint,
  customRoot,
  eye,
  grad,
  linalg,
  matmul,
  mul,
  random,
  square,
  stationarity,
  sub,
  sum,
  tanh,
  tensor,
  type Tensor,
} from "../../src/index.js";
import { diabetesSplit } from "../../examples/data.js";
import { TIMED, hypergradient, svmProblem } from "../../paper/experiments/svm-hpo.js";

export interface Workload {
  /** Row label, also the key in peers.py's report. */
  name: string;
  /** The computation, dispatched by peers.py. */
  kind: string;
  params: Record<string, number>;
  arrays: Record<string, Tensor>;
  /** Runs diffopt's version and returns the values to compare. */
  run: () => number[];
  /** What is timed, when reading the values out would dominate (default: `run`). */
  timed?: () => unknown;
  /** Relative tolerance of the value check. */
  tol: number;
  /** Time is divided by this (small-op rows report time per op). */
  perOp?: number;
  /** Target ratio diffopt / PyTorch (issue 13). */
  target?: number;
  /** Minimum measured time in seconds (default 0.3). */
  minTime?: number;
}

const keyStream = (seed: number) => {
  let k = random.key(seed);
  return () => {
    const [a, b] = random.split(k, 2);
    k = a!;
    return b!;
  };
};

const summary = (t: Tensor) => {
  const d = t.data;
  let s = 0;
  let ss = 0;
  for (let i = 0; i < d.length; i++) {
    s += d[i]!;
    ss += d[i]! * d[i]!;
  }
  return [s, Math.sqrt(ss), d[0]!, d[d.length - 1]!];
};

const CHAIN = 1000;

function smallOps(next: () => ReturnType<typeof random.key>): Workload[] {
  const x = random.normal(next(), [10]);
  const y = random.normal(next(), [10]);
  const ones = tensor(new Float64Array(10).fill(1));
  const chain = (v: Tensor) => {
    let acc = v;
    for (let i = 0; i < CHAIN; i++) acc = mul(acc, ones);
    return sum(acc);
  };
  const g = grad(chain);
  return [
    {
      name: "add, size 10, eager",
      kind: "add",
      params: {},
      arrays: { x, y },
      run: () => [...add(x, y).data],
      timed: () => add(x, y),
      tol: 0,
      target: 0.2,
    },
    {
      name: `mul chain under grad, per op`,
      kind: "mul_chain_grad",
      params: { chain: CHAIN },
      arrays: { x, ones },
      run: () => [...(g(x) as Tensor).data],
      tol: 0,
      perOp: CHAIN,
      target: 0.5,
    },
  ];
}

function matmuls(next: () => ReturnType<typeof random.key>): Workload[] {
  return [128, 512, 1024].map((n) => {
    const A = random.normal(next(), [n, n]);
    const B = random.normal(next(), [n, n]);
    return {
      name: `matmul ${n}`,
      kind: "matmul",
      params: { n },
      arrays: { A, B },
      run: () => summary(matmul(A, B)),
      tol: 1e-10,
      target: n === 512 ? 8 : undefined,
      minTime: n === 1024 ? 1 : 0.3,
    };
  });
}

function leastSquaresGradient(next: () => ReturnType<typeof random.key>): Workload {
  const X = random.normal(next(), [1000, 100]);
  const y = random.normal(next(), [1000]);
  const w = random.normal(next(), [100]);
  const g = grad((v: Tensor) => mul(0.5, sum(square(sub(matmul(X, v), y)))));
  return {
    name: "least-squares gradient 1000×100",
    kind: "lstsq_grad",
    params: {},
    arrays: { X, y, w },
    run: () => [...(g(w) as Tensor).data],
    tol: 1e-10,
    target: 3,
  };
}

function denseSolve(next: () => ReturnType<typeof random.key>): Workload {
  const n = 500;
  const A = add(random.normal(next(), [n, n]), mul(Math.sqrt(n), eye(n)));
  const b = random.normal(next(), [n]);
  return {
    name: "dense solve 500",
    kind: "solve",
    params: { n },
    arrays: { A, b },
    run: () => [...linalg.solve(A, b).data],
    tol: 1e-9,
  };
}

/** 5-point Laplacian on an m×m grid with zero Dirichlet boundary, matrix-free on plain arrays. */
function poissonCg(next: () => ReturnType<typeof random.key>): Workload {
  const m = 64;
  const b = random.normal(next(), [m * m]);
  const stencil = (v: Tensor): Tensor => {
    const x = v.data;
    const out = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        const k = i * m + j;
        let s = 4 * x[k]!;
        if (i > 0) s -= x[k - m]!;
        if (i < m - 1) s -= x[k + m]!;
        if (j > 0) s -= x[k - 1]!;
        if (j < m - 1) s -= x[k + 1]!;
        out[k] = s;
      }
    }
    return tensor(out);
  };
  const op = linalg.LinearOperator.fromFunction((_p: null, v: Tensor) => stencil(v), null, b, {
    tags: { positiveDefinite: true },
  });
  return {
    name: `CG, 2-D Poisson ${m}×${m}`,
    kind: "poisson_cg",
    params: { m, rtol: 1e-10 },
    arrays: { b },
    run: () => [...linalg.cg(op, b, { rtol: 1e-10 }).value.data],
    tol: 1e-7,
  };
}

/**
 * Ridge on the diabetes data: hypergradient of a validation loss in λ, with the inner problem solved by K steps of
 * gradient descent (hand-written gradient Xᵀ(Xw − y) + λw, step 1/L). Implicit: the K steps on plain values, then
 * the implicit backward of customRoot. Unrolled: reverse mode through the K steps.
 */
export function ridgeWorkloads(): Workload[] {
  const { Xtr, ytr, Xval, yval, d } = diabetesSplit(300);
  const lam = tensor(0.05);
  const gram = matmul(Xtr.T, Xtr);
  const xty = matmul(Xtr.T, ytr);
  const L = linalg.eigh(add(gram, mul(lam, eye(d)))).eigenvalues.data[d - 1]!;
  const gradInner = (w: Tensor, l: Tensor) => add(sub(matmul(gram, w), xty), mul(l, w));
  const gd = (l: Tensor, iters: number) => {
    let w = tensor(new Float64Array(d));
    for (let i = 0; i < iters; i++) w = sub(w, mul(1 / L, gradInner(w, l)));
    return w;
  };
  const inner = (w: Tensor, l: Tensor) =>
    add(mul(0.5, sum(square(sub(matmul(Xtr, w), ytr)))), mul(mul(0.5, l), sum(square(w))));
  const outer = (w: Tensor) => mul(0.5, sum(square(sub(matmul(Xval, w), yval))));
  const rows: Workload[] = [];
  for (const K of [100, 1000, 10000]) {
    const layer = customRoot(stationarity(inner), { positiveDefinite: true, residualTol: Infinity })(
      (_init: undefined, l: Tensor) => gd(l, K),
    );
    const implicit = grad((l: Tensor) => outer(layer(undefined, l)));
    const unrolled = grad((l: Tensor) => outer(gd(l, K)));
    const arrays = { Xtr, ytr, Xval, yval, lam };
    const params = { K, L };
    rows.push(
      {
        name: `ridge hypergradient, implicit, K = ${K}`,
        kind: "ridge_implicit",
        params,
        arrays,
        // A fresh λ each call: an implicit layer reuses its last solve when called again on the very same
        // tensors (jacfwd relies on it), which would time a cache hit instead of K iterations.
        run: () => [(implicit(tensor(lam.item())) as Tensor).item()],
        tol: 1e-8,
        target: 0.5,
      },
      {
        name: `ridge hypergradient, unrolled, K = ${K}`,
        kind: "ridge_unrolled",
        params,
        arrays,
        run: () => [(unrolled(lam) as Tensor).item()],
        tol: 1e-8,
        target: 1,
        minTime: K >= 10000 ? 1 : 0.3,
      },
    );
  }
  return rows;
}

/** Deep-equilibrium layer z = tanh(Wz + x), 200 iterations; gradient of cᵀz in (W, x). */
function deq(next: () => ReturnType<typeof random.key>): Workload[] {
  const rows: Workload[] = [];
  for (const d of [128, 512]) {
    const W = mul(0.4 / Math.sqrt(d), random.normal(next(), [d, d]));
    const x = random.normal(next(), [d]);
    const c = random.normal(next(), [d]);
    const iters = 200;
    const T = (z: Tensor, Wm: Tensor, xv: Tensor) => tanh(add(matmul(Wm, z), xv));
    const iterate = (Wm: Tensor, xv: Tensor) => {
      let z = tensor(new Float64Array(d));
      for (let i = 0; i < iters; i++) z = T(z, Wm, xv);
      return z;
    };
    const layer = customFixedPoint(T)((_z0: undefined, Wm: Tensor, xv: Tensor) => iterate(Wm, xv));
    const loss = (z: Tensor) => sum(mul(c, z));
    const implicit = grad((Wm: Tensor, xv: Tensor) => loss(layer(undefined, Wm, xv)), { argnums: [0, 1] });
    const unrolled = grad((Wm: Tensor, xv: Tensor) => loss(iterate(Wm, xv)), { argnums: [0, 1] });
    const check = (g: Tensor[]) => [...summary(g[0]!), ...summary(g[1]!)];
    const arrays = { W, x, c };
    const params = { d, iters };
    rows.push(
      {
        name: `deep equilibrium d = ${d}, implicit`,
        kind: "deq_implicit",
        params,
        arrays,
        run: () => check(implicit(W, tensor(x.data.slice())) as Tensor[]), // fresh x: no reuse of the last solve
        tol: 1e-8,
        target: 1,
      },
      {
        name: `deep equilibrium d = ${d}, unrolled`,
        kind: "deq_unrolled",
        params,
        arrays,
        run: () => check(unrolled(W, x) as Tensor[]),
        tol: 1e-8,
        target: 1.5,
        minTime: d >= 512 ? 1 : 0.3,
      },
    );
  }
  return rows;
}

/**
 * The paper's SVM experiment (paper/experiments/svm-hpo.ts, the same code and data generator): the hypergradient
 * dL/dλ of the validation loss ½‖X_val W(β*, θ) − Y_val‖², θ = exp(λ) at λ = 0, of the multiclass SVM dual on
 * m = 300 training / 200 validation samples, p = 100 features, k = 5 classes, solved by K projected-gradient
 * steps (step θ/λ_max(XXᵀ)). Implicit: the K steps on plain values, then the backward solve of the
 * projected-gradient fixed point (GMRES, as timed in the experiment; PyTorch: `torch.func.jacrev` of the same
 * fixed point and `torch.linalg.solve`). Unrolled: reverse mode through the K steps (PyTorch: autograd).
 */
export function svmWorkloads(): Workload[] {
  const P = svmProblem(300, 200, 100, 5, 100);
  const K = 200;
  const arrays = { X: P.train[0], Y: P.train[1], Xval: P.val[0], Yval: P.val[1] };
  const params = { K, lmax: P.lmax };
  const opts = { tol: 0, maxIter: K, implicit: TIMED };
  return (["implicit", "unrolled"] as const).map((mode) => ({
    name: `SVM hypergradient (paper), ${mode}, K = ${K}`,
    kind: `svm_${mode}`,
    params,
    arrays,
    run: () => {
      const method = mode === "implicit" ? "implicit, PG fixed point" : "unrolled";
      return [hypergradient(P, "projected gradient", method, 0, opts).value];
    },
    tol: 1e-7,
    minTime: 1,
  }));
}

/** Every workload, with its data drawn from one seeded key stream. */
export function workloads(): Workload[] {
  const next = keyStream(2026);
  return [
    ...smallOps(next),
    ...matmuls(next),
    leastSquaresGradient(next),
    denseSolve(next),
    poissonCg(next),
    ...ridgeWorkloads(),
    ...deq(next),
    ...svmWorkloads(),
  ];
}
