/**
 * The Moré–Garbow–Hillstrom test problems (J. J. Moré, B. S. Garbow, K. E. Hillstrom, "Testing unconstrained
 * optimization software", ACM TOMS 7(1), 1981) as residual functions f: ℝⁿ → ℝᵐ written with diffopt's ops, from
 * the paper's definitions (problem numbers in brackets). The objective is F(x) = Σᵢ fᵢ(x)² (the paper's
 * convention; diffopt's least-squares solvers minimise ½‖f‖² = F/2). `test/fixtures/mgh-scipy.py` writes the same
 * functions in torch and solves them with SciPy; the names and sizes here must match its table.
 */
import {
  Tensor,
  abs,
  arange,
  arctan,
  concatenate,
  cos,
  cumsum,
  exp,
  log,
  matmul,
  mean,
  minimum,
  pow,
  prod,
  reshape,
  sin,
  slice,
  sqrt,
  square,
  stack,
  stopGradient,
  sum,
  tensor,
} from "../src/index.js";

/** One problem: its residuals, sizes and the paper's starting point. */
export interface MghProblem {
  name: string;
  n: number;
  m: number;
  /** m = n and the paper (or MINPACK's hybrd tests) treats it as a system of equations. */
  square: boolean;
  residual: (x: Tensor) => Tensor;
}

const el = (x: Tensor, i: number): Tensor => slice(x, i);
/** x[start::step] (Python slicing). */
const every = (x: Tensor, start: number, step: number): Tensor => slice(x, [start, null, step]);
/** 1, 2, …, k as a float tensor. */
const oneTo = (k: number): Tensor => arange(1, k + 1);
const interleave = (cols: Tensor[]): Tensor => reshape(stack(cols, 1), [-1]);

const BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.1, 4.39];
const GAUSSIAN_HALF = [0.0009, 0.0044, 0.0175, 0.054, 0.1295, 0.242, 0.3521, 0.3989];
const GAUSSIAN_Y = [...GAUSSIAN_HALF, ...GAUSSIAN_HALF.slice(0, -1).reverse()];
const MEYER_Y = [34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005, 5147, 4427, 3820, 3307, 2872];
const KOWALIK_Y = [0.1957, 0.1947, 0.1735, 0.16, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246];
const KOWALIK_U = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625];
const OSBORNE1_Y = [
  0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.85, 0.818, 0.784, 0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.58,
  0.558, 0.538, 0.522, 0.506, 0.49, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.42, 0.414, 0.411, 0.406,
];
const OSBORNE2_Y = [
  1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679, 0.608, 0.655, 0.616, 0.606, 0.602,
  0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.5, 0.423, 0.395, 0.375,
  0.372, 0.391, 0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591,
  0.559, 0.597, 0.625, 0.739, 0.71, 0.729, 0.72, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054,
];

function grid(n: number): [number, Tensor] {
  const h = 1 / (n + 1);
  return [h, oneTo(n).mul(h)];
}

/** x with zeros on both ends: [0, x₁, …, xₙ, 0]. */
const padded = (x: Tensor): Tensor => concatenate([tensor([0]), x, tensor([0])]);

function chebyquad(x: Tensor): Tensor {
  const n = x.size;
  const y = x.mul(2).sub(1);
  let prev: Tensor = tensor(new Float64Array(n).fill(1));
  let cur = y;
  const rows: Tensor[] = [];
  for (let i = 1; i <= n; i++) {
    const integral = i % 2 === 1 ? 0 : -1 / (i * i - 1);
    rows.push(mean(cur).sub(integral));
    [prev, cur] = [cur, y.mul(2).mul(cur).sub(prev)];
  }
  return stack(rows);
}

/** The problems, in the paper's order, at the sizes of the fixture. */
export const MGH_PROBLEMS: readonly MghProblem[] = [
  {
    name: "rosenbrock", // [1]
    n: 2,
    m: 2,
    square: true,
    residual: (x) =>
      stack([
        el(x, 1)
          .sub(square(el(x, 0)))
          .mul(10),
        tensor(1).sub(el(x, 0)),
      ]),
  },
  {
    name: "freudensteinRoth", // [2]
    n: 2,
    m: 2,
    square: true,
    residual: (x) => {
      const [a, b] = [el(x, 0), el(x, 1)];
      return stack([
        a.add(tensor(5).sub(b).mul(b).sub(2).mul(b)).sub(13),
        a.add(b.add(1).mul(b).sub(14).mul(b)).sub(29),
      ]);
    },
  },
  {
    name: "powellBadlyScaled", // [3]
    n: 2,
    m: 2,
    square: true,
    residual: (x) => {
      const [a, b] = [el(x, 0), el(x, 1)];
      return stack([a.mul(b).mul(1e4).sub(1), exp(a.neg()).add(exp(b.neg())).sub(1.0001)]);
    },
  },
  {
    name: "brownBadlyScaled", // [4]
    n: 2,
    m: 3,
    square: false,
    residual: (x) => {
      const [a, b] = [el(x, 0), el(x, 1)];
      return stack([a.sub(1e6), b.sub(2e-6), a.mul(b).sub(2)]);
    },
  },
  {
    name: "beale", // [5]
    n: 2,
    m: 3,
    square: false,
    residual: (x) => tensor([1.5, 2.25, 2.625]).sub(el(x, 0).mul(tensor(1).sub(pow(el(x, 1), tensor([1, 2, 3]))))),
  },
  {
    name: "jennrichSampson", // [6], m = 10
    n: 2,
    m: 10,
    square: false,
    residual: (x) => {
      const i = oneTo(10);
      return i
        .mul(2)
        .add(2)
        .sub(exp(i.mul(el(x, 0))).add(exp(i.mul(el(x, 1)))));
    },
  },
  {
    name: "helicalValley", // [7]; θ's branch (x₁ < 0) is piecewise constant in x
    n: 3,
    m: 3,
    square: true,
    residual: (x) => {
      const [a, b, c] = [el(x, 0), el(x, 1), el(x, 2)];
      const branch = stopGradient(a).item() < 0 ? 0.5 : 0;
      const theta = arctan(b.div(a))
        .div(2 * Math.PI)
        .add(branch);
      return stack([
        c.sub(theta.mul(10)).mul(10),
        sqrt(square(a).add(square(b)))
          .sub(1)
          .mul(10),
        c,
      ]);
    },
  },
  {
    name: "bard", // [8]
    n: 3,
    m: 15,
    square: false,
    residual: (x) => bardFit(x, tensor(BARD_Y)),
  },
  {
    name: "gaussian", // [9]
    n: 3,
    m: 15,
    square: false,
    residual: (x) => {
      const t = tensor(8).sub(oneTo(15)).div(2);
      return el(x, 0)
        .mul(
          exp(
            el(x, 1)
              .neg()
              .mul(square(t.sub(el(x, 2))))
              .div(2),
          ),
        )
        .sub(tensor(GAUSSIAN_Y));
    },
  },
  {
    name: "meyer", // [10]
    n: 3,
    m: 16,
    square: false,
    residual: (x) => {
      const t = oneTo(16).mul(5).add(45);
      return el(x, 0)
        .mul(exp(el(x, 1).div(t.add(el(x, 2)))))
        .sub(tensor(MEYER_Y));
    },
  },
  {
    name: "gulf", // [11], m = 10; the paper's "|yᵢ m i x₂|" is a misprint for |yᵢ − x₂|
    n: 3,
    m: 10,
    square: false,
    residual: (x) => {
      const t = oneTo(10).div(100);
      const y = pow(log(t).mul(-50), 2 / 3).add(25);
      return exp(
        pow(abs(y.sub(el(x, 1))), el(x, 2))
          .div(el(x, 0))
          .neg(),
      ).sub(t);
    },
  },
  {
    name: "box3d", // [12], m = 10
    n: 3,
    m: 10,
    square: false,
    residual: (x) => {
      const t = oneTo(10).mul(0.1);
      return exp(t.neg().mul(el(x, 0)))
        .sub(exp(t.neg().mul(el(x, 1))))
        .sub(el(x, 2).mul(exp(t.neg()).sub(exp(t.mul(-10)))));
    },
  },
  {
    name: "powellSingular", // [13]
    n: 4,
    m: 4,
    square: true,
    residual: (x) => extendedPowell(x),
  },
  {
    name: "wood", // [14]
    n: 4,
    m: 6,
    square: false,
    residual: (x) => {
      const [a, b, c, d] = [el(x, 0), el(x, 1), el(x, 2), el(x, 3)];
      return stack([
        b.sub(square(a)).mul(10),
        tensor(1).sub(a),
        d.sub(square(c)).mul(Math.sqrt(90)),
        tensor(1).sub(c),
        b.add(d).sub(2).mul(Math.sqrt(10)),
        b.sub(d).div(Math.sqrt(10)),
      ]);
    },
  },
  {
    name: "kowalikOsborne", // [15]
    n: 4,
    m: 11,
    square: false,
    residual: (x) => {
      const u = tensor(KOWALIK_U);
      const u2 = square(u);
      const num = el(x, 0).mul(u2.add(u.mul(el(x, 1))));
      return tensor(KOWALIK_Y).sub(num.div(u2.add(u.mul(el(x, 2))).add(el(x, 3))));
    },
  },
  {
    name: "brownDennis", // [16], m = 20
    n: 4,
    m: 20,
    square: false,
    residual: (x) => {
      const t = oneTo(20).div(5);
      const p = el(x, 0)
        .add(t.mul(el(x, 1)))
        .sub(exp(t));
      const q = el(x, 2)
        .add(el(x, 3).mul(sin(t)))
        .sub(cos(t));
      return square(p).add(square(q));
    },
  },
  {
    name: "osborne1", // [17]
    n: 5,
    m: 33,
    square: false,
    residual: (x) => {
      const t = arange(0, 33).mul(10);
      const model = el(x, 0)
        .add(el(x, 1).mul(exp(t.neg().mul(el(x, 3)))))
        .add(el(x, 2).mul(exp(t.neg().mul(el(x, 4)))));
      return tensor(OSBORNE1_Y).sub(model);
    },
  },
  {
    name: "biggsExp6", // [18], m = 13
    n: 6,
    m: 13,
    square: false,
    residual: (x) => {
      const t = oneTo(13).mul(0.1);
      const y = exp(t.neg())
        .sub(exp(t.mul(-10)).mul(5))
        .add(exp(t.mul(-4)).mul(3));
      return el(x, 2)
        .mul(exp(t.neg().mul(el(x, 0))))
        .sub(el(x, 3).mul(exp(t.neg().mul(el(x, 1)))))
        .add(el(x, 5).mul(exp(t.neg().mul(el(x, 4)))))
        .sub(y);
    },
  },
  {
    name: "osborne2", // [19]
    n: 11,
    m: 65,
    square: false,
    residual: (x) => {
      const t = arange(0, 65).div(10);
      const bump = (amp: number, rate: number, centre: number) =>
        el(x, amp).mul(
          exp(
            square(t.sub(el(x, centre)))
              .neg()
              .mul(el(x, rate)),
          ),
        );
      const model = el(x, 0)
        .mul(exp(t.neg().mul(el(x, 4))))
        .add(bump(1, 5, 8))
        .add(bump(2, 6, 9))
        .add(bump(3, 7, 10));
      return tensor(OSBORNE2_Y).sub(model);
    },
  },
  {
    name: "watson", // [20], n = 6, m = 31
    n: 6,
    m: 31,
    square: false,
    residual: (x) => {
      const n = x.size;
      const t = reshape(oneTo(29).div(29), [29, 1]);
      const powers = pow(t, reshape(arange(0, n), [1, n])); // t^(j−1), j = 1..n
      const s1 = matmul(slice(powers, null, [0, n - 1]), arange(1, n).mul(slice(x, [1]))); // Σ_{j≥2} (j−1)xⱼt^(j−2)
      const s2 = matmul(powers, x);
      const [a, b] = [el(x, 0), el(x, 1)];
      return concatenate([s1.sub(square(s2)).sub(1), stack([a, b.sub(square(a)).sub(1)])]);
    },
  },
  {
    name: "extendedRosenbrock", // [21]
    n: 10,
    m: 10,
    square: true,
    residual: (x) => {
      const [odd, even] = [every(x, 0, 2), every(x, 1, 2)];
      return interleave([even.sub(square(odd)).mul(10), tensor(1).sub(odd)]);
    },
  },
  {
    name: "extendedPowell", // [22]
    n: 12,
    m: 12,
    square: true,
    residual: (x) => extendedPowell(x),
  },
  {
    name: "penalty1", // [23], m = n + 1
    n: 10,
    m: 11,
    square: false,
    residual: (x) => concatenate([x.sub(1).mul(Math.sqrt(1e-5)), reshape(sum(square(x)).sub(0.25), [1])]),
  },
  {
    name: "penalty2", // [24], m = 2n
    n: 10,
    m: 20,
    square: false,
    residual: (x) => {
      const n = x.size;
      const a = Math.sqrt(1e-5);
      const i = arange(2, n + 1);
      const y = exp(i.div(10)).add(exp(i.sub(1).div(10)));
      const tail = exp(slice(x, [1]).div(10));
      return concatenate([
        reshape(el(x, 0).sub(0.2), [1]),
        tail
          .add(exp(slice(x, [0, -1]).div(10)))
          .sub(y)
          .mul(a),
        tail.sub(Math.exp(-0.1)).mul(a),
        reshape(sum(arange(n, 0, -1).mul(square(x))).sub(1), [1]),
      ]);
    },
  },
  {
    name: "variablyDimensioned", // [25], m = n + 2
    n: 10,
    m: 12,
    square: false,
    residual: (x) => {
      const s = sum(oneTo(x.size).mul(x.sub(1)));
      return concatenate([x.sub(1), stack([s, square(s)])]);
    },
  },
  {
    name: "trigonometric", // [26]
    n: 10,
    m: 10,
    square: true,
    residual: (x) => {
      const n = x.size;
      return tensor(n)
        .sub(sum(cos(x)))
        .add(oneTo(n).mul(tensor(1).sub(cos(x))))
        .sub(sin(x));
    },
  },
  {
    name: "brownAlmostLinear", // [27]
    n: 10,
    m: 10,
    square: true,
    residual: (x) => {
      const n = x.size;
      return concatenate([
        slice(x, [0, -1])
          .add(sum(x))
          .sub(n + 1),
        reshape(prod(x).sub(1), [1]),
      ]);
    },
  },
  {
    name: "discreteBoundaryValue", // [28]
    n: 10,
    m: 10,
    square: true,
    residual: (x) => {
      const [h, t] = grid(x.size);
      const xp = padded(x);
      return x
        .mul(2)
        .sub(slice(xp, [0, -2]))
        .sub(slice(xp, [2]))
        .add(pow(x.add(t).add(1), 3).mul((h * h) / 2));
    },
  },
  {
    name: "discreteIntegral", // [29]
    n: 10,
    m: 10,
    square: true,
    residual: (x) => {
      const [h, t] = grid(x.size);
      const c = pow(x.add(t).add(1), 3);
      const oneMinusT = tensor(1).sub(t);
      const lower = cumsum(t.mul(c)); // Σ_{j≤i} tⱼcⱼ
      const w = oneMinusT.mul(c);
      const upper = sum(w).sub(cumsum(w)); // Σ_{j>i} (1 − tⱼ)cⱼ
      return x.add(
        oneMinusT
          .mul(lower)
          .add(t.mul(upper))
          .mul(h / 2),
      );
    },
  },
  {
    name: "broydenTridiagonal", // [30]
    n: 10,
    m: 10,
    square: true,
    residual: (x) => broydenTridiagonal(x, tensor(1)),
  },
  {
    name: "broydenBanded", // [31], ml = 5, mu = 1
    n: 10,
    m: 10,
    square: true,
    residual: (x) => {
      const n = x.size;
      const band = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = Math.max(0, i - 5); j <= Math.min(n - 1, i + 1); j++) {
          if (j !== i) band[i * n + j] = 1;
        }
      return x
        .mul(square(x).mul(5).add(2))
        .add(1)
        .sub(matmul(tensor(band, [n, n]), x.mul(x.add(1))));
    },
  },
  {
    name: "linearFullRank", // [32], m = 10
    n: 5,
    m: 10,
    square: false,
    residual: (x) => {
      const s = sum(x).mul(2 / 10);
      return concatenate([
        x.sub(s).sub(1),
        tensor(new Float64Array(10 - x.size))
          .sub(s)
          .sub(1),
      ]);
    },
  },
  {
    name: "linearRank1", // [33], m = 10
    n: 5,
    m: 10,
    square: false,
    residual: (x) =>
      oneTo(10)
        .mul(sum(oneTo(x.size).mul(x)))
        .sub(1),
  },
  {
    name: "linearRank1Zero", // [34], m = 10
    n: 5,
    m: 10,
    square: false,
    residual: (x) => {
      const s = sum(arange(2, x.size).mul(slice(x, [1, -1])));
      return concatenate([tensor([-1]), oneTo(8).mul(s).sub(1), tensor([-1])]);
    },
  },
  { name: "chebyquad7", n: 7, m: 7, square: true, residual: chebyquad }, // [35], m = n
  { name: "chebyquad8", n: 8, m: 8, square: false, residual: chebyquad },
];

/** Bard's residuals [8] with the data y as an argument: yᵢ − (x₁ + uᵢ/(vᵢx₂ + wᵢx₃)). */
export function bardFit(x: Tensor, y: Tensor): Tensor {
  const u = oneTo(15);
  const v = tensor(16).sub(u);
  const w = minimum(u, v);
  return y.sub(el(x, 0).add(u.div(v.mul(el(x, 1)).add(w.mul(el(x, 2))))));
}

/** Bard's data. */
export const BARD_DATA = BARD_Y;

/** Broyden's tridiagonal system [30] with its constant c as an argument (c = 1 in the paper). */
export function broydenTridiagonal(x: Tensor, c: Tensor): Tensor {
  const xp = padded(x);
  return tensor(3)
    .sub(x.mul(2))
    .mul(x)
    .sub(slice(xp, [0, -2]))
    .sub(slice(xp, [2]).mul(2))
    .add(c);
}

function extendedPowell(x: Tensor): Tensor {
  const [a, b, c, d] = [every(x, 0, 4), every(x, 1, 4), every(x, 2, 4), every(x, 3, 4)];
  return interleave([
    a.add(b.mul(10)),
    c.sub(d).mul(Math.sqrt(5)),
    square(b.sub(c.mul(2))),
    square(a.sub(d)).mul(Math.sqrt(10)),
  ]);
}

/** F(x) = Σ fᵢ(x)², the paper's objective. */
export const objectiveOf =
  (p: MghProblem) =>
  (x: Tensor): Tensor =>
    sum(square(p.residual(x)));
