/**
 * Type-checking of documentation programs (guides, doc-comment examples) as a strict TypeScript user would compile
 * them, with `"diffopt"` resolved to the repository's src/index.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import ts from "typescript";

/**
 * Type-checks programs (as `extractMarkdownProgram` gives them, so lines are the guides' own) in one strict
 * compilation where `"diffopt"` is the repository's src/index.ts; returns the errors as `guide.md:line: …`.
 */
export function typeCheckPrograms(programs: readonly { file: string; code: string }[], root: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "diffopt-guides-types-"));
  try {
    const names = new Map<string, string>();
    const files = programs.map((p, i) => {
      const f = join(dir, `program-${i}.ts`);
      writeFileSync(f, p.code);
      names.set(f, p.file);
      return f;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2022.d.ts"],
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      paths: { diffopt: [join(root, "src", "index.ts")] },
      types: ["node"],
      typeRoots: [join(root, "node_modules", "@types")],
      skipLibCheck: true,
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const where =
        d.file && d.start !== undefined
          ? `${names.get(d.file.fileName) ?? basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}`
          : "(no file)";
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
