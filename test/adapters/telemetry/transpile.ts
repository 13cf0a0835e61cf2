/**
 * Compiles the sources (and a few test files) to CommonJS for a child `node` process, the way `tsc` does
 * for dist/: the child then loads modules with Node's own `require`, as the Functions host does, which is
 * what the SDK's module patching (and so dependency collection) depends on. Types are not checked here
 * (`npm run build` and `npm run lint` do that); the output lives under node_modules/.cache so that
 * packages resolve from it.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export const ROOT = path.resolve(__dirname, "..", "..", "..");

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Transpiles src/** plus `extra` (repository-relative .ts files) into a fresh directory; returns it. */
export function transpileForNode(label: string, extra: string[]): string {
  const outDir = path.join(ROOT, "node_modules", ".cache", "aks-acr-auditor-tests", `${label}-${process.pid}-${Date.now()}`);
  const sources = [...walk(path.join(ROOT, "src")), ...extra.map((f) => path.join(ROOT, f))];
  for (const file of sources) {
    const rel = path.relative(ROOT, file);
    if (file.endsWith(".d.ts")) continue;
    if (file.endsWith(".json")) {
      fs.mkdirSync(path.dirname(path.join(outDir, rel)), { recursive: true });
      fs.copyFileSync(file, path.join(outDir, rel));
      continue;
    }
    if (!file.endsWith(".ts")) continue;
    const { outputText } = ts.transpileModule(fs.readFileSync(file, "utf8"), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        resolveJsonModule: true,
        sourceMap: false,
      },
    });
    const target = path.join(outDir, rel.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
  }
  return outDir;
}
