/**
 * The demo page: wires the inputs of both panels to the computations of ridge.ts and projection-sets.ts and
 * draws the results. Every number shown is also stored, unrounded, in the `data-value` attribute of its
 * `<output>` (JSON for vectors and matrices), which is what scripts/browser-smoke.ts reads.
 */
import { COLORS, View, arrow, dot, drawGrid, label, line, prepareCanvas, type Point } from "./canvas.js";
import { SETS, analyseProjection, isSetName, type ConvexSet, type SetName } from "./projection-sets.js";
import { analyseRidge, ridgeSolution, syntheticData, validationLoss, type RidgeData } from "./ridge.js";
import { tensor } from "../src/index.js";

function element<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`demo page: no <${type.name}> with id "${id}"`);
  return found;
}

/** Shows a number (or JSON of numbers) in an <output>, keeping the exact value in data-value. */
function show(out: HTMLOutputElement, text: string, exact: unknown): void {
  out.textContent = text;
  out.dataset["value"] = typeof exact === "number" ? String(exact) : JSON.stringify(exact);
}

function showError(box: HTMLElement, error: unknown): void {
  box.textContent = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  box.hidden = false;
}

/** The number typed in `input`; a RangeError naming `what` when it is empty or not a finite number. */
function numberIn(input: HTMLInputElement, what: string): number {
  const value = input.value.trim() === "" ? NaN : Number(input.value);
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a number, got "${input.value}"`);
  return value;
}

const fixed = (values: readonly number[], digits: number) => `[${values.map((v) => v.toFixed(digits)).join(", ")}]`;

// ---------------------------------------------------------------------------------------------------------------
// Ridge panel

const LOG_LAMBDA_MIN = -2;
const LOG_LAMBDA_MAX = 3;
const CURVE_POINTS = 151;

/** The validation loss on a grid of log10 λ, computed once per dataset. */
function lossCurve(data: RidgeData): Point[] {
  const curve: Point[] = [];
  for (let i = 0; i < CURVE_POINTS; i++) {
    const t = LOG_LAMBDA_MIN + ((LOG_LAMBDA_MAX - LOG_LAMBDA_MIN) * i) / (CURVE_POINTS - 1);
    curve.push([t, validationLoss(data, ridgeSolution(data, tensor(10 ** t))).item()]);
  }
  return curve;
}

/** Round tick values covering [lo, hi], about `count` of them. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const DECADE_LABELS: Record<number, string> = { [-2]: "0.01", [-1]: "0.1", 0: "1", 1: "10", 2: "100", 3: "1000" };

/** The loss curve, the current λ and the tangent of slope dL/dlog10λ = λ·ln10·dL/dλ. */
function drawLossPlot(canvas: HTMLCanvasElement, curve: readonly Point[], lambda: number, loss: number, slope: number) {
  const { ctx, width, height } = prepareCanvas(canvas);
  const losses = curve.map((p) => p[1]);
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  const pad = 0.08 * (hi - lo || 1);
  const view = new View(LOG_LAMBDA_MIN, LOG_LAMBDA_MAX, lo - pad, hi + pad, 44, 12, width - 68, height - 44);
  ctx.lineWidth = 1;
  for (let t = LOG_LAMBDA_MIN; t <= LOG_LAMBDA_MAX; t++) {
    line(ctx, view.toPixel([t, view.y0]), view.toPixel([t, view.y1]), COLORS.grid);
    const [px, py] = view.toPixel([t, view.y0]);
    label(ctx, DECADE_LABELS[t] ?? `1e${t}`, [px, py + 14], "center");
  }
  for (const y of ticks(lo - pad, hi + pad, 5)) {
    line(ctx, view.toPixel([view.x0, y]), view.toPixel([view.x1, y]), COLORS.grid);
    const [px, py] = view.toPixel([view.x0, y]);
    label(ctx, String(y), [px - 6, py], "right");
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(view.left, view.top, view.width, view.height);
  ctx.clip();
  ctx.lineWidth = 2;
  ctx.strokeStyle = COLORS.curve;
  ctx.beginPath();
  curve.forEach((p, i) => {
    const [px, py] = view.toPixel(p);
    if (i === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  });
  ctx.stroke();
  const t = Math.log10(lambda);
  const halfWidth = 0.6;
  ctx.lineWidth = 2;
  line(
    ctx,
    view.toPixel([t - halfWidth, loss - slope * halfWidth]),
    view.toPixel([t + halfWidth, loss + slope * halfWidth]),
    COLORS.tangent,
  );
  dot(ctx, view.toPixel([t, loss]), 5, COLORS.tangent);
  ctx.restore();
}

function setUpRidgePanel(): void {
  const slider = element("lambda-slider", HTMLInputElement);
  const lambdaInput = element("lambda-input", HTMLInputElement);
  const seedInput = element("seed-input", HTMLInputElement);
  const canvas = element("loss-canvas", HTMLCanvasElement);
  const errorBox = element("ridge-error", HTMLParagraphElement);
  const outputs = {
    loss: element("ridge-loss", HTMLOutputElement),
    implicit: element("hg-implicit", HTMLOutputElement),
    closed: element("hg-closed", HTMLOutputElement),
    difference: element("hg-difference", HTMLOutputElement),
    diagnostics: element("hg-diagnostics", HTMLOutputElement),
    solution: element("ridge-solution", HTMLOutputElement),
  };
  let dataset: { seed: number; data: RidgeData; curve: Point[] } | undefined;

  const update = () => {
    errorBox.hidden = true;
    try {
      const lambda = numberIn(lambdaInput, "λ");
      if (!(lambda > 0)) throw new RangeError(`λ must be positive, got ${lambda}`);
      const seed = numberIn(seedInput, "the seed");
      if (dataset?.seed !== seed) {
        const data = syntheticData(seed);
        dataset = { seed, data, curve: lossCurve(data) };
      }
      const r = analyseRidge(dataset.data, lambda);
      const difference = Math.abs(r.implicit - r.closedForm);
      show(outputs.loss, r.loss.toPrecision(10), r.loss);
      show(outputs.implicit, r.implicit.toPrecision(15), r.implicit);
      show(outputs.closed, r.closedForm.toPrecision(15), r.closedForm);
      show(outputs.difference, difference.toExponential(2), difference);
      const solve = r.diagnostics.linearSolve;
      outputs.diagnostics.textContent =
        `${solve.solver}, ‖∇f(w*)‖ = ${r.diagnostics.forwardResidual.toExponential(1)}, ` +
        `residual ${solve.residualNorm.toExponential(1)}`;
      show(outputs.solution, fixed(Array.from(r.w.data), 3), Array.from(r.w.data));
      drawLossPlot(canvas, dataset.curve, lambda, r.loss, lambda * Math.LN10 * r.implicit);
    } catch (e) {
      for (const out of Object.values(outputs)) show(out, "—", null);
      showError(errorBox, e);
    }
  };

  slider.addEventListener("input", () => {
    lambdaInput.value = Number((10 ** Number(slider.value)).toPrecision(4)).toString();
    update();
  });
  lambdaInput.addEventListener("input", () => {
    const lambda = Number(lambdaInput.value);
    if (lambda > 0) slider.value = String(Math.log10(lambda));
    update();
  });
  seedInput.addEventListener("input", update);
  window.addEventListener("resize", update);
  update();
}

// ---------------------------------------------------------------------------------------------------------------
// Projection panel

/** The plane shown: 5 × 4 world units, matching the canvas's 5 / 4 aspect ratio (style.css). */
function planeView(width: number, height: number): View {
  return new View(-2.5, 2.5, -1.5, 2.5, 0, 0, width, height);
}

/** World length of the drawn unit direction v (J·v is drawn at the same scale). */
const ARROW_SCALE = 0.9;

function drawSet(ctx: CanvasRenderingContext2D, view: View, set: ConvexSet): void {
  const outline = set.outline;
  ctx.fillStyle = COLORS.set;
  ctx.strokeStyle = COLORS.setEdge;
  ctx.lineWidth = 2;
  if (outline.kind === "segment") {
    const from = view.toPixel(outline.from);
    const to = view.toPixel(outline.to);
    ctx.lineWidth = 9;
    ctx.lineCap = "round";
    line(ctx, from, to, COLORS.set);
    ctx.lineWidth = 2.5;
    line(ctx, from, to, COLORS.setEdge);
    ctx.lineCap = "butt";
  } else if (outline.kind === "disc") {
    const [cx, cy] = view.toPixel([0, 0]);
    ctx.beginPath();
    ctx.arc(cx, cy, outline.radius * view.scale, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  } else {
    const [x0, y0] = view.toPixel([outline.lower[0], outline.upper[1]]);
    const [x1, y1] = view.toPixel([outline.upper[0], outline.lower[1]]);
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
}

function drawProjection(
  canvas: HTMLCanvasElement,
  set: ConvexSet,
  x: Point,
  v: Point,
  projected: Point,
  jv: Point,
): View {
  const { ctx, width, height } = prepareCanvas(canvas);
  const view = planeView(width, height);
  // The world box on the canvas, for the smoke test's drag.
  canvas.dataset["view"] = JSON.stringify([view.x0, view.x1, view.y0, view.y1]);
  drawGrid(ctx, view, 0.5);
  drawSet(ctx, view, set);
  const px = view.toPixel(x);
  const pp = view.toPixel(projected);
  ctx.lineWidth = 1.5;
  line(ctx, px, pp, COLORS.point, [5, 4]);
  const tip = (from: Point, d: Point): Point =>
    view.toPixel([from[0] + ARROW_SCALE * d[0], from[1] + ARROW_SCALE * d[1]]);
  arrow(ctx, px, tip(x, v), COLORS.direction);
  arrow(ctx, pp, tip(projected, jv), COLORS.jacobian);
  dot(ctx, px, 6, COLORS.point);
  dot(ctx, pp, 6, COLORS.projection);
  label(ctx, "x", [px[0] + 10, px[1] - 10]);
  label(ctx, "P(x)", [pp[0] + 12, pp[1] + 16], "left", COLORS.projection);
  return view;
}

function setUpProjectionPanel(): void {
  const canvas = element("projection-canvas", HTMLCanvasElement);
  const xInput = element("point-x", HTMLInputElement);
  const yInput = element("point-y", HTMLInputElement);
  const angleInput = element("direction-angle", HTMLInputElement);
  const angleLabel = element("direction-label", HTMLOutputElement);
  const description = element("set-description", HTMLSpanElement);
  const errorBox = element("projection-error", HTMLParagraphElement);
  const outputs = {
    projected: element("projected", HTMLOutputElement),
    jacobian: element("jacobian", HTMLOutputElement),
    direction: element("direction", HTMLOutputElement),
    jacobianDirection: element("jacobian-direction", HTMLOutputElement),
  };
  const checked = document.querySelector<HTMLInputElement>('input[name="set"]:checked');
  let setName: SetName = checked !== null && isSetName(checked.value) ? checked.value : "simplex";
  let view = planeView(canvas.clientWidth, canvas.clientHeight);

  const update = () => {
    errorBox.hidden = true;
    const set = SETS[setName];
    description.textContent = set.description;
    const degrees = Number(angleInput.value);
    angleLabel.textContent = `${degrees}°`;
    const v: Point = [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];
    try {
      const x: Point = [numberIn(xInput, "x₁"), numberIn(yInput, "x₂")];
      const r = analyseProjection(set, x, v);
      show(outputs.projected, fixed(r.projected, 4), r.projected);
      show(outputs.jacobian, `[${r.jacobian.map((row) => fixed(row, 3)).join(", ")}]`, r.jacobian);
      show(outputs.direction, fixed(v, 3), v);
      show(outputs.jacobianDirection, fixed(r.jacobianTimesDirection, 4), r.jacobianTimesDirection);
      view = drawProjection(canvas, set, x, v, r.projected, r.jacobianTimesDirection);
    } catch (e) {
      for (const out of Object.values(outputs)) show(out, "—", null);
      showError(errorBox, e);
    }
  };

  const moveTo = (event: PointerEvent) => {
    const rect = canvas.getBoundingClientRect();
    // The view spans the canvas's content box, inside its border.
    const [wx, wy] = view.toWorld([
      event.clientX - rect.left - canvas.clientLeft,
      event.clientY - rect.top - canvas.clientTop,
    ]);
    xInput.value = wx.toFixed(2);
    yInput.value = wy.toFixed(2);
    update();
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    moveTo(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (canvas.hasPointerCapture(event.pointerId)) moveTo(event);
  });
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="set"]')) {
    radio.addEventListener("change", () => {
      if (radio.checked && isSetName(radio.value)) setName = radio.value;
      update();
    });
  }
  for (const input of [xInput, yInput, angleInput]) input.addEventListener("input", update);
  window.addEventListener("resize", update);
  update();
}

setUpRidgePanel();
setUpProjectionPanel();
document.body.dataset["ready"] = "true";
