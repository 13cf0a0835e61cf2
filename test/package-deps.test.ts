import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { expect, test } from "vitest";

const root = path.resolve(__dirname, "..");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every package the app imports at run time is a production dependency (a deployment installs no devDependencies)", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);
  const missing: string[] = [];
  for (const file of sources(path.join(root, "src"))) {
    const text = fs.readFileSync(file, "utf8");
    // Static value imports and dynamic imports; `import type` is erased by the compiler.
    const specs = [
      ...[...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]),
      ...[...text.matchAll(/^\s*import\s+"([^"]+)"/gm)].map((m) => m[1]),
      ...[...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]),
    ];
    for (const spec of specs) {
      if (spec.startsWith(".") || spec.startsWith("node:") || builtins.has(spec)) continue;
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (!(name in pkg.dependencies)) missing.push(`${path.relative(root, file)} imports ${spec}`);
    }
  }
  expect(missing).toEqual([]);
});
