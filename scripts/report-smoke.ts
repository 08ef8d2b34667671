/**
 * Browser check of the paper report (not part of `npm test`: it needs a Chromium and a generated report; run
 * `npm run paper -- --quick` first, or, as CI does, `DIFFOPT_PAPER_OUT=$PWD/reports npm test` then
 * `npm run paper -- --index`). Opens reports/index.html from disk in headless Chromium through
 * playwright-core and checks:
 * - no uncaught exception, no console error or warning;
 * - no network request (the page is self-contained: inline SVG and CSS);
 * - one section per reports/<name>.json record, with its claims table, and one rendered (non-empty) SVG per
 *   figure listed in the record;
 * - the summary says how many claims held.
 * Saves a full-page screenshot to reports/screenshot.png and exits non-zero if any check fails.
 *
 * Run: npm run test:report [-- --chromium /path/to/chromium] [--dir reports]
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import type { ExperimentRecord } from "../paper/report.js";
import { claimFails } from "../paper/experiment.js";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--no-first-run",
];

let failures = 0;
function check(ok: boolean, what: string): void {
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
}

function argument(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const executablePath = argument("--chromium", "/usr/bin/chromium");
  const dir = resolve(argument("--dir", "reports"));
  const records = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as ExperimentRecord)
    .filter((r) => typeof r.name === "string" && Array.isArray(r.claims));
  check(records.length > 0, `${records.length} experiment record(s) in ${dir}`);
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") errors.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on("request", (r) => {
      if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url());
    });
    const url = pathToFileURL(join(dir, "index.html")).href;
    await page.goto(url, { waitUntil: "load" });
    console.log(`Report loaded from ${url}`);
    check((await page.title()).includes("diffopt"), `title "${await page.title()}"`);
    for (const r of records) {
      const section = page.locator(`section#${r.name}`);
      check((await section.count()) === 1, `${r.name}: one section`);
      const claimRows = await section.locator("table.claims tr").count();
      check(claimRows === r.claims.length + 1, `${r.name}: ${r.claims.length} claim(s) in its table`);
      const boxes = await section
        .locator("figure > svg")
        .evaluateAll((els) =>
          els
            .map((e) => (e as unknown as { getBBox(): { width: number; height: number } }).getBBox())
            .map((b) => b.width * b.height),
        );
      check(
        boxes.length === r.figures.length && boxes.every((a) => a > 0),
        `${r.name}: ${r.figures.length} figure(s) rendered (${boxes.length} non-empty SVG)`,
      );
    }
    const summary = (await page.locator("h3", { hasText: "Summary" }).textContent()) ?? "";
    const failed = records.reduce((a, r) => a + r.claims.filter((c) => claimFails(c, r.mode === "quick")).length, 0);
    check(
      failed === 0 ? summary.includes("all claims held") : summary.includes(`${failed} claim(s) failed`),
      `summary: "${summary.trim()}"`,
    );
    await page.screenshot({ path: join(dir, "screenshot.png"), fullPage: true });
    console.log(`Screenshot saved to ${join(dir, "screenshot.png")}`);
    check(requests.length === 0, `no network requests${requests.length ? `: ${requests.join(", ")}` : ""}`);
    check(errors.length === 0, `no page errors${errors.length ? `: ${errors.join("; ")}` : ""}`);
  } finally {
    await browser.close();
  }
  console.log(failures === 0 ? "Report check passed." : `Report check: ${failures} check(s) failed.`);
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
