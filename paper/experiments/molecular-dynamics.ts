/**
 * Sensitivity of a jammed soft-sphere packing to a particle size (the paper's Figure 6, after JAX MD).
 *
 * N discs in a periodic square box, half of diameter 1 and half of diameter θ = 0.6, interact by the harmonic
 * soft-sphere potential U(r) = (1/α)(1 − r/σ)^α for r < σ (α = 2, σ the sum of the two radii). FIRE (a damped
 * dynamics with adaptive time step, Bitzek et al. 2006) minimises the energy E(x, θ) from random positions to
 * max|force| < 1e-10. The sensitivity ∂x* / ∂θ of the minimiser is the implicit derivative of the force condition
 * ∇ₓE(x*, θ) = 0 (`customRoot`), checked against central finite differences of packings re-minimised at θ ± h.
 *
 * Zero modes. ∇²ₓE is singular: translating every particle leaves E unchanged (two zero modes), and a rattler,
 * a particle caged without contacts, can move freely (two more each). We solve the backward system in the
 * least-squares sense, for its minimum-norm solution (`solve: "lstsq"`), rather than pinning the centre of mass:
 * the right-hand side ∂θ∇ₓE is orthogonal to every zero mode (forces sum to zero; a rattler feels none), so the
 * system is consistent, and the minimum-norm solution is the one with no net translation and still rattlers,
 * which is exactly what re-minimising from x* does (FIRE keeps the centre of mass: the forces sum to zero and the
 * velocity starts at zero; a rattler without contacts feels no force). Rattlers (fewer than 3 contacts, removed
 * recursively) are excluded from the claim: their position inside the cage is arbitrary, so their sensitivity
 * is not defined.
 */
import {
  Tensor,
  customRoot,
  expandDims,
  grad,
  jvp,
  maximum,
  mul,
  random,
  sqrt,
  stopGradient,
  sub,
  sum,
  tensor,
  add,
  div,
  square,
  type ImplicitDiagnostics,
} from "../../src/index.js";
import type { Claim, Experiment, ExperimentContext, ExperimentResult } from "../experiment.js";
import { chartSvg, formatNumber, particleSvg } from "../plot.js";

/** The packing: N particles (first half large, second half small) in a box of side `box`. */
export interface Packing {
  n: number;
  box: number;
  /** Radius of the large particles (diameter 1). */
  large: number;
}

/** Radius of particle i for the small diameter θ. */
function radius(P: Packing, i: number, theta: number): number {
  return i < P.n / 2 ? P.large : theta / 2;
}

/** Box side for packing fraction φ: N/2 discs of each diameter over the box area. */
export function boxSide(n: number, theta: number, phi: number): number {
  return Math.sqrt(((n / 2) * Math.PI * (0.25 + (theta / 2) ** 2)) / phi);
}

/**
 * Forces −∇ₓE on plain arrays (x flat [x0, y0, x1, y1, …]), with minimum-image displacements; returns the
 * energy. The O(N²) pair loop is fast enough for N = 128.
 */
export function forces(P: Packing, x: Float64Array, theta: number, out: Float64Array): number {
  out.fill(0);
  let energy = 0;
  const L = P.box;
  for (let i = 0; i < P.n; i++) {
    const ri = radius(P, i, theta);
    for (let j = i + 1; j < P.n; j++) {
      const sigma = ri + radius(P, j, theta);
      let dx = x[2 * i]! - x[2 * j]!;
      let dy = x[2 * i + 1]! - x[2 * j + 1]!;
      dx -= L * Math.round(dx / L);
      dy -= L * Math.round(dy / L);
      const r2 = dx * dx + dy * dy;
      if (r2 >= sigma * sigma) continue;
      const r = Math.sqrt(r2);
      const overlap = 1 - r / sigma;
      energy += 0.5 * overlap * overlap;
      // −dU/dr = overlap/σ, along the unit vector from j to i
      const f = overlap / (sigma * r);
      out[2 * i]! += f * dx;
      out[2 * i + 1]! += f * dy;
      out[2 * j]! -= f * dx;
      out[2 * j + 1]! -= f * dy;
    }
  }
  return energy;
}

function maxAbs(v: Float64Array): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}

/** Options of {@link fire}; the defaults are Bitzek et al.'s with a time step suited to this potential. */
export interface FireOptions {
  /** Stop when max|force| < tol. */
  tol: number;
  maxIter: number;
  dt?: number;
  dtMax?: number;
}

/**
 * FIRE (Fast Inertial Relaxation Engine): dynamics with unit masses (semi-implicit Euler), whose velocity is
 * turned towards the force, v ← (1 − a)v + a|v|F/|F|, while the power F·v is positive; the step grows (×1.1,
 * up to dtMax) and a decays after 5 such steps; at the first uphill step the velocity is zeroed, the step
 * halved and a reset. Runs on plain numbers (the implicit derivative never looks inside). Throws if it does not
 * reach `tol`.
 */
export function fire(
  P: Packing,
  x0: Float64Array,
  theta: number,
  opts: FireOptions,
  onProgress?: (iter: number, maxForce: number) => void,
) {
  const { tol, maxIter } = opts;
  const dt0 = opts.dt ?? 0.02;
  const dtMax = opts.dtMax ?? 0.2;
  const [nMin, fInc, fDec, a0, fA] = [5, 1.1, 0.5, 0.1, 0.99];
  const x = Float64Array.from(x0);
  const v = new Float64Array(x.length);
  const F = new Float64Array(x.length);
  let dt = dt0;
  let a = a0;
  let sinceUphill = 0;
  let energy = forces(P, x, theta, F);
  for (let iter = 0; iter <= maxIter; iter++) {
    const fmax = maxAbs(F);
    if (fmax < tol) return { x, energy, iterations: iter, maxForce: fmax };
    if (iter % 500 === 0) onProgress?.(iter, fmax);
    let power = 0;
    let vv = 0;
    let ff = 0;
    for (let i = 0; i < x.length; i++) {
      power += F[i]! * v[i]!;
      vv += v[i]! * v[i]!;
      ff += F[i]! * F[i]!;
    }
    if (power > 0) {
      const mix = (a * Math.sqrt(vv)) / Math.sqrt(ff);
      for (let i = 0; i < x.length; i++) v[i] = (1 - a) * v[i]! + mix * F[i]!;
      if (++sinceUphill > nMin) {
        dt = Math.min(dt * fInc, dtMax);
        a *= fA;
      }
    } else {
      v.fill(0);
      dt *= fDec;
      a = a0;
      sinceUphill = 0;
    }
    for (let i = 0; i < x.length; i++) {
      v[i]! += dt * F[i]!;
      x[i]! += dt * v[i]!;
    }
    energy = forces(P, x, theta, F);
  }
  throw new Error(`FIRE: max|force| ${maxAbs(F).toExponential(2)} > tol ${tol} after ${maxIter} iterations`);
}

/**
 * The energy E(x, θ) = Σ_{i<j} U(r_ij) with the public tensor ops (differentiable in x and θ): x is [N, 2], θ a
 * scalar tensor. The periodic image shift L·round(d/L) is piecewise constant, so it is computed from the plain
 * positions; the diagonal (r = 0) is masked out, with 1 added under the square root so that it stays smooth.
 */
export function energyTensor(P: Packing) {
  const n = P.n;
  const isSmall = tensor(Float64Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : 1)));
  const largeRadius = tensor(Float64Array.from({ length: n }, (_, i) => (i < n / 2 ? P.large : 0)));
  const offDiagonal = tensor(
    Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 0 : 1)),
    [n, n],
  );
  const identity = sub(1, offDiagonal);
  return (x: Tensor, theta: Tensor): Tensor => {
    const radii = add(largeRadius, mul(isSmall, div(theta, 2)));
    const sigma = add(expandDims(radii, 1), expandDims(radii, 0));
    const d = sub(expandDims(x, 1), expandDims(x, 0)); // [n, n, 2]
    const plain = stopGradient(d).data;
    const shift = new Float64Array(plain.length);
    for (let k = 0; k < plain.length; k++) shift[k] = P.box * Math.round(plain[k]! / P.box);
    const dm = sub(d, tensor(shift, d.shape));
    const r = sqrt(add(sum(square(dm), { axis: -1 }), identity));
    const overlap = mul(maximum(sub(1, div(r, sigma)), 0), offDiagonal);
    // each pair appears twice in the [n, n] sum
    return mul(0.25, sum(square(overlap)));
  };
}

/** Contacts (pairs with r < σ) and rattlers: particles left with < 3 contacts, removed recursively. */
export function contactsAndRattlers(P: Packing, x: Float64Array, theta: number) {
  const neighbours: number[][] = Array.from({ length: P.n }, () => []);
  const L = P.box;
  for (let i = 0; i < P.n; i++)
    for (let j = i + 1; j < P.n; j++) {
      let dx = x[2 * i]! - x[2 * j]!;
      let dy = x[2 * i + 1]! - x[2 * j + 1]!;
      dx -= L * Math.round(dx / L);
      dy -= L * Math.round(dy / L);
      const sigma = radius(P, i, theta) + radius(P, j, theta);
      if (dx * dx + dy * dy < sigma * sigma) {
        neighbours[i]!.push(j);
        neighbours[j]!.push(i);
      }
    }
  const rattler = new Array<boolean>(P.n).fill(false);
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < P.n; i++) {
      if (rattler[i]) continue;
      if (neighbours[i]!.filter((j) => !rattler[j]).length < 3) {
        rattler[i] = true;
        changed = true;
      }
    }
  }
  const contacts = neighbours.reduce((a, l) => a + l.length, 0) / 2;
  return { contacts, degree: neighbours.map((l) => l.length), rattler };
}

/**
 * How far θ can move before a pair's gap r − σ changes sign, at the rates given by the sensitivity `dx` (the
 * derivative of the gap is the relative displacement along the pair's axis minus dσ/dθ).
 */
export function contactMargin(P: Packing, x: Float64Array, theta: number, dx: ArrayLike<number>): number {
  let margin = Infinity;
  const L = P.box;
  for (let i = 0; i < P.n; i++)
    for (let j = i + 1; j < P.n; j++) {
      let ex = x[2 * i]! - x[2 * j]!;
      let ey = x[2 * i + 1]! - x[2 * j + 1]!;
      ex -= L * Math.round(ex / L);
      ey -= L * Math.round(ey / L);
      const r = Math.hypot(ex, ey);
      const gap = r - radius(P, i, theta) - radius(P, j, theta);
      const dSigma = (i < P.n / 2 ? 0 : 0.5) + (j < P.n / 2 ? 0 : 0.5);
      const rate = (ex * (dx[2 * i]! - dx[2 * j]!) + ey * (dx[2 * i + 1]! - dx[2 * j + 1]!)) / r - dSigma;
      if (rate !== 0) margin = Math.min(margin, Math.abs(gap / rate));
    }
  return margin;
}

interface MdSettings {
  n: number;
  theta: number;
  phi: number;
  seed: number;
  tol: number;
  fdTol: number;
  hMax: number;
}

export const molecularDynamics: Experiment = {
  name: "molecular-dynamics",
  title: "Molecular dynamics: sensitivity of a jammed packing (Figure 6)",
  description:
    "A 2-D bidisperse soft-sphere packing in a periodic box (half the discs of diameter 1, half of diameter θ = 0.6; harmonic repulsion U(r) = ½(1 − r/σ)² for r < σ), minimised with FIRE from random positions to max|force| < 1e-10. The sensitivity ∂x*/∂θ of every particle's position to the small diameter is computed by implicit differentiation of the force balance ∇ₓE(x*, θ) = 0 (customRoot, minimum-norm backward solve for the translation and rattler zero modes) and compared with central finite differences of packings re-minimised at θ ± h from x*.",
  async run(ctx: ExperimentContext): Promise<ExperimentResult> {
    const S: MdSettings = {
      n: ctx.quick ? 32 : 128,
      theta: 0.6,
      phi: 0.9,
      seed: 0,
      tol: 1e-10,
      fdTol: 1e-13,
      hMax: 1e-5,
    };
    const P: Packing = { n: S.n, box: boxSide(S.n, S.theta, S.phi), large: 0.5 };
    const x0 = Float64Array.from(random.uniform(random.key(S.seed), [2 * S.n], { maxval: P.box }).data);
    const fireOpts = { tol: S.tol, maxIter: 2_000_000 };

    // 1. Minimise.
    const barMin = ctx.progress("molecular-dynamics: FIRE", 1);
    let t = performance.now();
    const min = fire(P, x0, S.theta, fireOpts, (it, f) =>
      barMin.tick(0, `iteration ${it}, max|F| ${f.toExponential(1)}`),
    );
    barMin.tick(1, `${min.iterations} iterations`);
    barMin.done();
    const tMinimise = performance.now() - t;
    const { contacts, degree, rattler } = contactsAndRattlers(P, min.x, S.theta);
    const rattlers = rattler.filter(Boolean).length;

    // 2. Implicit sensitivity: the decorated solver's JVP in θ.
    const E = energyTensor(P);
    const forceBalance = grad(E) as (x: Tensor, theta: Tensor) => Tensor;
    let diagnostics: ImplicitDiagnostics | undefined;
    const solveWithFire = (init: Tensor, theta: Tensor) =>
      tensor(fire(P, Float64Array.from(init.data), theta.item(), fireOpts).x, [S.n, 2]);
    const packing = customRoot(forceBalance, {
      solve: "lstsq",
      symmetric: true,
      onDiagnostics: (d) => (diagnostics = d),
    })(solveWithFire);
    const start = tensor(min.x, [S.n, 2]);
    t = performance.now();
    const [xStar, dx] = jvp((theta: Tensor) => packing(start, theta), [tensor(S.theta)], [tensor(1)]);
    const tImplicit = performance.now() - t;
    const implicit = (dx as Tensor).data;

    // 3. Finite differences of re-minimised packings, warm-started from x* (same basin). The harmonic contact's
    // stiffness jumps from 1/σ² to 0 when it opens, so x*(θ) is only piecewise smooth: h must keep every pair on
    // its side of contact. The step is the largest h ≤ hMax for which no pair's gap r − σ changes sign at the
    // rate the implicit sensitivity predicts (with a factor 10 of margin).
    const h = Math.min(S.hMax, 0.1 * contactMargin(P, min.x, S.theta, implicit));
    const barFd = ctx.progress("molecular-dynamics: finite differences", 2);
    t = performance.now();
    const side = (sign: number) => {
      const r = fire(P, min.x, S.theta + sign * h, { tol: S.fdTol, maxIter: 2_000_000 });
      barFd.tick(1, `θ ${sign > 0 ? "+" : "−"} h: ${r.iterations} iterations`);
      return r;
    };
    const plus = side(1);
    const minus = side(-1);
    barFd.done();
    const tFd = performance.now() - t;
    const sameContacts =
      contactsAndRattlers(P, plus.x, S.theta + h).contacts === contacts &&
      contactsAndRattlers(P, minus.x, S.theta - h).contacts === contacts;
    const fd = plus.x.map((v, i) => (v - minus.x[i]!) / (2 * h));

    // 4. Compare on particles with contacts.
    const norm2 = (a: ArrayLike<number>, i: number) => Math.hypot(a[2 * i]!, a[2 * i + 1]!);
    const jammed = Array.from({ length: S.n }, (_, i) => i).filter((i) => !rattler[i]);
    const scale = Math.max(...jammed.map((i) => norm2(fd, i)));
    const diff = implicit.map((v, i) => v - fd[i]!);
    const worst = Math.max(...jammed.map((i) => norm2(diff, i))) / scale;
    const rattlerWorst = Math.max(0, ...rattler.flatMap((r, i) => (r ? [norm2(diff, i) / scale] : [])));
    const residual = Math.max(
      ...(forceBalance(stopGradient(xStar as Tensor), tensor(S.theta)).data as Float64Array).map(Math.abs),
    );
    const comSensitivity = [0, 1].map((c) => implicit.reduce((a, v, i) => (i % 2 === c ? a + v : a), 0) / S.n);

    const claims: Claim[] = [
      {
        id: "implicit-matches-fd",
        statement: `the implicit sensitivity ∂x*/∂θ matches central finite differences of re-minimised packings on the ${jammed.length} particles with contacts (value: max over them of |implicit − FD| / max |FD|)`,
        holds: worst <= 1e-4 && sameContacts,
        value: worst,
        bound: 1e-4,
      },
      {
        id: "minimised",
        statement: `FIRE minimised the packing to max|force| < ${S.tol} (value: max|∇ₓE| at x*, evaluated with the tensor energy)`,
        holds: residual < 10 * S.tol,
        value: residual,
        bound: 10 * S.tol,
      },
    ];

    const arrowScale = 1.2 / Math.max(...jammed.map((i) => norm2(implicit, i)));
    const picture = particleSvg({
      title: `Sensitivity ∂x*/∂θ of a jammed packing (N = ${S.n}, φ = ${S.phi}, θ = ${S.theta})`,
      box: P.box,
      discs: Array.from({ length: S.n }, (_, i) => ({
        x: min.x[2 * i]!,
        y: min.x[2 * i + 1]!,
        radius: radius(P, i, S.theta),
        fill: rattler[i] ? "#ffffff" : i < S.n / 2 ? "#9ecae1" : "#fdd0a2",
      })),
      arrows: jammed.map((i) => ({
        x: min.x[2 * i]!,
        y: min.x[2 * i + 1]!,
        dx: implicit[2 * i]!,
        dy: implicit[2 * i + 1]!,
      })),
      arrowScale,
      legend: [
        `blue: diameter 1; orange: diameter θ; white: rattlers (${rattlers}, < 3 contacts, no arrow).`,
        `Arrows: ∂x*/∂θ by implicit differentiation, drawn ×${formatNumber(arrowScale)} (box side ${formatNumber(P.box)}).`,
      ],
    });
    const components = jammed.flatMap((i) => [2 * i, 2 * i + 1]);
    const scatter = chartSvg({
      panels: [
        {
          title: "implicit against finite differences",
          xLabel: "∂x*/∂θ by central finite differences (length / length)",
          yLabel: "∂x*/∂θ by implicit differentiation",
          legend: "top-left",
          series: [
            {
              name: "coordinates of particles with contacts",
              x: components.map((c) => fd[c]!),
              y: components.map((c) => implicit[c]!),
              line: false,
            },
          ],
        },
        {
          title: "difference per particle",
          xLabel: "particle (sorted by |FD|)",
          yLabel: "|implicit − FD| / max|FD|",
          logY: true,
          legend: "top-left",
          series: [
            {
              name: "particles with contacts",
              x: jammed.map((_, k) => k),
              y: [...jammed]
                .sort((a, b) => norm2(fd, a) - norm2(fd, b))
                .map((i) => Math.max(norm2(diff, i) / scale, 1e-16)),
              line: false,
            },
          ],
        },
      ],
    });

    return {
      settings: {
        ...S,
        box: P.box,
        potential: "U(r) = ½(1 − r/σ)² for r < σ (α = 2), σ = r_i + r_j",
        particles: `${S.n / 2} of diameter 1, ${S.n / 2} of diameter θ`,
        initialPositions: `uniform in the box, seed ${S.seed}`,
        minimiser:
          "FIRE (dt 0.02, dtMax 0.2, Nmin 5, f_inc 1.1, f_dec 0.5, α 0.1, f_α 0.99), in paper/experiments/molecular-dynamics.ts",
        backwardSolve: 'minimum-norm least squares (customRoot solve: "lstsq")',
        finiteDifferences: `central, h = ${formatNumber(h)} (≤ ${S.hMax}, within the contact margin), FIRE from x* to max|force| < ${S.fdTol}`,
      },
      results: {
        energy: min.energy,
        fireIterations: min.iterations,
        contacts,
        meanContactsPerJammedParticle: jammed.reduce((a, i) => a + degree[i]!, 0) / jammed.length,
        rattlers,
        rattlerIndices: rattler.flatMap((r, i) => (r ? [i] : [])),
        sameContactsUnderFd: sameContacts,
        worstRelativeDifference: worst,
        rattlerWorstRelativeDifference: rattlerWorst,
        maxSensitivity: scale,
        forceResidual: residual,
        centreOfMassSensitivity: comSensitivity,
        backwardSolve: diagnostics?.linearSolve ?? null,
        positions: Array.from(min.x),
        implicitSensitivity: Array.from(implicit),
        finiteDifferenceSensitivity: Array.from(fd),
      },
      timings: { minimiseMs: tMinimise, implicitMs: tImplicit, finiteDifferencesMs: tFd },
      claims,
      figures: [
        {
          file: "molecular-dynamics.svg",
          caption:
            "The packing at its energy minimum and the sensitivity of each particle's position to the small diameter θ, by implicit differentiation (the paper's Figure 6).",
          svg: picture,
        },
        {
          file: "molecular-dynamics-check.svg",
          caption:
            "Left: implicit sensitivity against central finite differences of re-minimised packings, every coordinate of every particle with contacts (on the diagonal). Right: their difference per particle, relative to the largest sensitivity.",
          svg: scatter,
        },
      ],
      tables: [
        {
          caption: "Packing and check",
          columns: ["quantity", "value"],
          rows: [
            ["particles N", S.n],
            ["packing fraction φ", S.phi],
            ["energy at x*", min.energy],
            ["FIRE iterations", min.iterations],
            ["contacts", contacts],
            ["rattlers (excluded)", rattlers],
            ["max |∂x*/∂θ| (FD, particles with contacts)", scale],
            ["max |implicit − FD| / max |FD|", worst],
            ["same rattlers' |implicit − FD| / max |FD|", rattlerWorst],
            [
              "net translation of the implicit sensitivity (x, y)",
              comSensitivity.map((v) => v.toExponential(1)).join(", "),
            ],
            ["same contacts at θ ± h", sameContacts ? "yes" : "no"],
          ],
        },
      ],
      notes: [
        `Packing fraction φ = ${S.phi}, well above jamming for this bidisperse mixture (φ_J ≈ 0.84), so the packing is rigid: the Hessian has no zero modes besides the translations and the rattlers.`,
        "Zero modes: minimum-norm least-squares backward solve (the right-hand side is orthogonal to the null space), which picks the sensitivity with no net translation and still rattlers: the solution re-minimisation from x* finds (FIRE conserves the centre of mass). Pinning the centre of mass would give the same non-rattler sensitivities up to a translation, but needs an extra constraint in the condition.",
        "Rattlers (fewer than 3 contacts, removed recursively) sit in a cage without force: their position is arbitrary, so they are drawn white, get no arrow and are excluded from the claim.",
        `Finite differences: θ ± h with h = ${formatNumber(h)}: the largest step (≤ ${S.hMax}) that keeps, at the rate predicted by the sensitivity, every pair on its side of contact with a factor 10 of margin (the smallest contact margin is ${formatNumber(contactMargin(P, min.x, S.theta, implicit))} in θ); each packing re-minimised from x* by FIRE to max|force| < ${S.fdTol} (tighter than x*, so that the difference quotient is accurate); the contact network is the same at θ ± h: ${sameContacts ? "yes" : "NO"}.`,
      ],
    };
  },
};
