/**
 * Browser smoke test of the demo page (not part of `npm test`: it needs a Chromium, e.g. Debian's
 * `apt-get install -y chromium`). Builds the page, serves web/ on 127.0.0.1 (a free port), loads it in headless
 * Chromium through playwright-core, and checks the numbers the page computed:
 * - ridge panel: the implicit hypergradient equals the closed form to 1e-8 (relative to max(1, |closed form|))
 *   for several λ and two datasets;
 * - projection panel: P(x) and its Jacobian equal their closed forms for the simplex, the ℓ2 ball and the box,
 *   and dragging on the canvas moves the point;
 * - no uncaught exception and no console error.
 * Saves a screenshot to web/dist/screenshot.png and exits non-zero if any check fails.
 *
 * Run: npm run test:browser [-- --chromium /path/to/chromium]
 */
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Page } from "playwright-core";
import { buildPage, webDir } from "../web/build.js";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];
const HYPERGRADIENT_TOLERANCE = 1e-8;
const PROJECTION_TOLERANCE = 1e-12;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
};

/** Serves the files of `root` (GET only, nothing outside it) on 127.0.0.1 at a free port. */
async function serveStatic(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    if (request.method !== "GET" || !file.startsWith(root.endsWith(sep) ? root : root + sep)) {
      response.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) =>
        response
          .writeHead(200, { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream" })
          .end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/` };
}

let failures = 0;

/** Records and prints one check. */
function check(ok: boolean, what: string): void {
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
}

/** The exact value the page stored on an <output> (a number, or JSON of numbers). */
async function valueOf(page: Page, id: string): Promise<unknown> {
  const raw = await page.locator(`#${id}`).getAttribute("data-value");
  if (raw === null) throw new Error(`browser-smoke: #${id} has no data-value`);
  return JSON.parse(raw);
}

function closeTo(actual: unknown, expected: readonly number[], tolerance: number): boolean {
  const flat = [actual].flat(2);
  return (
    flat.length === expected.length &&
    flat.every((v, i) => typeof v === "number" && Math.abs(v - expected[i]!) <= tolerance)
  );
}

async function checkHypergradient(page: Page, seed: string, lambda: string): Promise<void> {
  await page.fill("#seed-input", seed);
  await page.fill("#lambda-input", lambda);
  const implicit = (await valueOf(page, "hg-implicit")) as number;
  const closed = (await valueOf(page, "hg-closed")) as number;
  const gap = Math.abs(implicit - closed);
  check(
    typeof implicit === "number" && gap <= HYPERGRADIENT_TOLERANCE * Math.max(1, Math.abs(closed)),
    `seed ${seed}, λ = ${lambda}: dL/dλ implicit ${implicit}, closed form ${closed}, |difference| ${gap.toExponential(2)}`,
  );
}

/** Picks a set, types x = (1.6, 1.2) and compares P(x) and J with their closed forms. */
async function checkProjection(page: Page, set: string, projected: number[], jacobian: number[]): Promise<void> {
  await page.check(`input[name="set"][value="${set}"]`);
  await page.fill("#point-x", "1.6");
  await page.fill("#point-y", "1.2");
  const p = await valueOf(page, "projected");
  const j = await valueOf(page, "jacobian");
  check(
    closeTo(p, projected, PROJECTION_TOLERANCE) && closeTo(j, jacobian, PROJECTION_TOLERANCE),
    `${set}: P(1.6, 1.2) = ${JSON.stringify(p)}, J = ${JSON.stringify(j)}`,
  );
}

/** Drags the point to world (−1.5, −1) on the canvas, whose world box [x0, x1] × [y0, y1] is in data-view. */
async function checkDrag(page: Page): Promise<void> {
  await page.check('input[name="set"][value="l2Ball"]');
  const box = await page.locator("#projection-canvas").evaluate((canvas) => {
    const rect = canvas.getBoundingClientRect();
    const [x, y] = [rect.left + canvas.clientLeft, rect.top + canvas.clientTop];
    return { x, y, width: canvas.clientWidth, height: canvas.clientHeight, view: canvas.dataset["view"] ?? "null" };
  });
  const [x0, x1, y0, y1] = JSON.parse(box.view) as [number, number, number, number];
  const at = (wx: number, wy: number) =>
    [box.x + ((wx - x0) / (x1 - x0)) * box.width, box.y + ((y1 - wy) / (y1 - y0)) * box.height] as const;
  await page.mouse.move(...at(0.5, 0.5));
  await page.mouse.down();
  await page.mouse.move(...at(-1.5, -1), { steps: 5 });
  await page.mouse.up();
  const x = [Number(await page.inputValue("#point-x")), Number(await page.inputValue("#point-y"))];
  const norm = Math.hypot(x[0]!, x[1]!);
  const p = await valueOf(page, "projected");
  check(
    closeTo(x, [-1.5, -1], 0.02) && closeTo(p, [x[0]! / norm, x[1]! / norm], PROJECTION_TOLERANCE),
    `drag to (−1.5, −1): x = ${JSON.stringify(x)}, P(x) = ${JSON.stringify(p)}`,
  );
}

async function main(): Promise<void> {
  const executablePath = process.argv.includes("--chromium")
    ? process.argv[process.argv.indexOf("--chromium") + 1]!
    : "/usr/bin/chromium";
  await buildPage();
  const { server, url } = await serveStatic(webDir);
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS }).catch((e: unknown) => {
    server.close();
    throw e;
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") errors.push(`console.${m.type()}: ${m.text()}`);
    });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    console.log(`Page loaded from ${url}`);

    check((await page.locator("#hg-implicit").textContent())?.trim() !== "—", "ridge panel computed on load");
    for (const [seed, lambda] of [
      ["0", "0.01"],
      ["0", "0.3"],
      ["0", "10"],
      ["0", "500"],
      ["3", "2"],
    ] as const) {
      await checkHypergradient(page, seed, lambda);
    }
    await page.fill("#lambda-input", "-1");
    check(await page.locator("#ridge-error").isVisible(), "λ = −1 is reported as an error");
    await page.fill("#lambda-input", "1");
    await page.fill("#seed-input", "1.5");
    const seedError = (await page.locator("#ridge-error").textContent()) ?? "";
    check(seedError.startsWith("ValueError: random.key"), `seed 1.5 is reported by the library: "${seedError}"`);

    // Closed forms at x = (1.6, 1.2): simplex τ = 0.9 with both coordinates active; ‖x‖ = 2 for the ball,
    // J = (I − uuᵀ)/‖x‖ with u = x/‖x‖; the box clips both coordinates, so J = 0.
    await checkProjection(page, "simplex", [0.7, 0.3], [0.5, -0.5, -0.5, 0.5]);
    await checkProjection(page, "l2Ball", [0.8, 0.6], [0.18, -0.24, -0.24, 0.32]);
    await checkProjection(page, "box", [1.5, 1], [0, 0, 0, 0]);
    await checkDrag(page);

    // The state shown in the screenshot.
    await page.fill("#seed-input", "0");
    await page.fill("#lambda-input", "1");
    await page.check('input[name="set"][value="simplex"]');
    await page.fill("#point-x", "1.6");
    await page.fill("#point-y", "1.2");
    await page.locator("#point-y").blur();
    const screenshot = join(webDir, "dist", "screenshot.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`Screenshot saved to ${screenshot}`);

    check(errors.length === 0, `no page errors${errors.length ? `: ${errors.join("; ")}` : ""}`);
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
  }
  console.log(failures === 0 ? "Browser smoke test passed." : `Browser smoke test: ${failures} check(s) failed.`);
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
