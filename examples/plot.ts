/**
 * A minimal SVG line chart (log or linear axes) for the examples: no dependency, readable output.
 */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: { name: string; y: number[]; dashed?: boolean }[];
  logX?: boolean;
  logY?: boolean;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

/** Renders `spec` as an SVG document (640 × 420). */
export function lineChartSvg(spec: ChartSpec): string {
  const W = 640;
  const H = 420;
  const m = { l: 70, r: 20, t: 40, b: 55 };
  const tx = (v: number) => (spec.logX ? Math.log10(v) : v);
  const ty = (v: number) => (spec.logY ? Math.log10(Math.max(v, 1e-300)) : v);
  const xs = spec.x.map(tx);
  const ys = spec.series.flatMap((s) => s.y.map(ty)).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (spec.logY) [y0, y1] = [Math.floor(y0), Math.ceil(y1)];
  const px = (v: number) => m.l + ((v - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((v - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${spec.title}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${spec.xLabel}</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${spec.yLabel}</text>`,
  ];
  const yTicks = spec.logY ? range(y0, y1, Math.max(1, Math.ceil((y1 - y0) / 8))) : linTicks(y0, y1);
  for (const t of yTicks) {
    parts.push(`<line x1="${m.l - 4}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${spec.logY ? `1e${t}` : fmt(t)}</text>`);
  }
  const xTicks = spec.logX ? range(Math.ceil(x0), Math.floor(x1), 1) : linTicks(x0, x1);
  for (const t of xTicks) {
    parts.push(`<line x1="${px(t)}" y1="${H - m.b}" x2="${px(t)}" y2="${H - m.b + 4}" stroke="black"/>`);
    parts.push(
      `<text x="${px(t)}" y="${H - m.b + 18}" text-anchor="middle">${spec.logX ? fmt(10 ** t) : fmt(t)}</text>`,
    );
  }
  spec.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.y.map((v, k) => `${px(xs[k]!).toFixed(1)},${py(ty(v)).toFixed(1)}`).join(" ");
    parts.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""} points="${pts}"/>`,
    );
    const ly = m.t + 8 + i * 18;
    parts.push(
      `<line x1="${W - m.r - 190}" y1="${ly}" x2="${W - m.r - 165}" y2="${ly}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    parts.push(`<text x="${W - m.r - 160}" y="${ly + 4}">${s.name}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

function range(a: number, b: number, step: number): number[] {
  const out: number[] = [];
  for (let v = a; v <= b; v += step) out.push(v);
  return out;
}

function linTicks(a: number, b: number): number[] {
  const step = 10 ** Math.floor(Math.log10((b - a) / 5 || 1));
  return range(Math.ceil(a / step) * step, b, step);
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}
