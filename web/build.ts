/**
 * Bundles the demo page: web/main.ts (with the library, imported from its TypeScript sources) into
 * web/dist/main.js, one classic script, so that index.html also works when opened from disk.
 *
 * Run: npm run web (type-checks web/ first).
 */
import { build, type BuildOptions } from "esbuild";
import { fileURLToPath } from "node:url";

/** The folder of the page. */
export const webDir = fileURLToPath(new URL(".", import.meta.url));

const outfile = fileURLToPath(new URL("dist/main.js", import.meta.url));

/** The esbuild options of the page's bundle (also used by test/web-bundle.test.ts, with `write: false`). */
export const pageBuildOptions = {
  entryPoints: [fileURLToPath(new URL("main.ts", import.meta.url))],
  outfile,
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "es2022",
  sourcemap: true,
  logLevel: "warning",
} satisfies BuildOptions;

/** Builds web/dist/main.js (and its source map); throws on any esbuild error. */
export async function buildPage(): Promise<void> {
  await build(pageBuildOptions);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPage();
  console.log(`Built ${outfile}; open web/index.html (see web/README.md).`);
}
