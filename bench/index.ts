/**
 * Runs the benchmarks: every `bench/*.bench.ts` module (each exports `run(): Promise<void>` and prints its own
 * tables). An optional argument keeps only modules whose name contains it: `npm run bench -- core`.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface BenchModule {
  run(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? "";
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts") && f.includes(filter))
  .sort();

if (files.length === 0) {
  console.error(`bench: no bench/*.bench.ts module matches "${filter}"`);
  process.exit(1);
}

console.log(`diffopt benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
for (const file of files) {
  console.log(`\n=== ${file.replace(/\.bench\.ts$/, "")} ===`);
  const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
  await mod.run();
}
