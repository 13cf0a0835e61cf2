#!/usr/bin/env bash
# Compiles (`bicep build`) and lints (`bicep lint`) every .bicep file under infra/ with the real Bicep CLI
# and fails on any diagnostic of level Warning or Error (the linter rules are at error in
# infra/bicepconfig.json, so warnings left are compiler warnings such as BCP081). Compiled ARM JSON goes
# to dist/infra/ (same layout as infra/), which the template tests read.
#
# A second lint pass pretends today is far in the future: the API-version rule then accepts only the
# newest stable version the pinned compiler knows, so CI cannot turn red by itself as versions age.
#
# A last step checks that `bicep format` would change nothing.
#
# No compiler: with CI=true this fails; otherwise it says it skipped and exits 0.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${BICEP_OUT_DIR:-$root/dist/infra}"
cd "$root"

if ! bicep="$(scripts/bicep-cli.sh)"; then
  if [ "${CI:-}" = "true" ]; then
    echo "bicep-check: FAILED: no Bicep compiler available (CI=true requires one)" >&2
    exit 1
  fi
  echo "bicep-check: SKIPPED: no Bicep compiler (install bicep or az, or the dotnet SDK to restore it from NuGet)"
  exit 0
fi

mapfile -t files < <(find infra -name '*.bicep' -type f | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "bicep-check: FAILED: no .bicep files under infra/" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=0

# Runs one bicep command; fails on a non-zero exit or on any Warning/Error diagnostic in its output.
run() {
  local label="$1"
  shift
  local log="$tmp/$label.log" rc=0
  "$bicep" "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || grep -Eq ' : (Warning|Error) ' "$log"; then
    echo "bicep-check: $label: FAILED (exit $rc)" >&2
    sed 's/^/  /' "$log" >&2
    failed=1
  fi
}

start=$(date +%s%N)
rm -rf "$out"
mkdir -p "$out"
run build build --pattern 'infra/**/*.bicep' --outdir "$out"
t_build=$(( ($(date +%s%N) - start) / 1000000 ))

start=$(date +%s%N)
run lint lint --pattern 'infra/**/*.bicep'
t_lint=$(( ($(date +%s%N) - start) / 1000000 ))

# Clock-proof API versions: the same rules, with the API-version rule's "today" set to 2100-01-01.
node -e '
  const fs = require("fs");
  const text = fs.readFileSync(process.argv[1], "utf8").replace(/^\s*\/\/.*$/gm, "");
  const cfg = JSON.parse(text);
  const rule = cfg.analyzers.core.rules["use-recent-api-versions"];
  rule["test-today"] = "2100-01-01";
  fs.writeFileSync(process.argv[2], JSON.stringify(cfg));
' infra/bicepconfig.json "$tmp/bicepconfig.future.json"
start=$(date +%s%N)
run lint-api-versions lint --pattern 'infra/**/*.bicep' --config "$tmp/bicepconfig.future.json"
t_api=$(( ($(date +%s%N) - start) / 1000000 ))

# Formatting: `bicep format` over a copy must change nothing (run `bicep format --pattern 'infra/**/*.bicep'`).
start=$(date +%s%N)
mkdir -p "$tmp/format"
cp -R infra "$tmp/format/"
if ! (cd "$tmp/format" && "$bicep" format --pattern 'infra/**/*.bicep' >"$tmp/format.log" 2>&1); then
  echo "bicep-check: format: FAILED" >&2
  sed 's/^/  /' "$tmp/format.log" >&2
  failed=1
elif ! diff -r -u infra "$tmp/format/infra" >"$tmp/format.diff"; then
  echo "bicep-check: format: files differ from 'bicep format' (fix: $bicep format --pattern 'infra/**/*.bicep')" >&2
  sed 's/^/  /' "$tmp/format.diff" | head -n 60 >&2
  failed=1
fi
t_format=$(( ($(date +%s%N) - start) / 1000000 ))

for f in "${files[@]}"; do
  rel="${f#infra/}"
  [ -s "$out/${rel%.bicep}.json" ] || { echo "bicep-check: no compiled output for $f" >&2; failed=1; }
done

if [ "$failed" -ne 0 ]; then
  echo "bicep-check: FAILED ($("$bicep" --version 2>/dev/null | head -n1))" >&2
  exit 1
fi
echo "bicep-check: ${#files[@]} files built and linted with $("$bicep" --version | head -n1), 0 warnings, 0 errors (build ${t_build} ms, lint ${t_lint} ms, api-version lint ${t_api} ms, format ${t_format} ms) -> ${out#"$root"/}"
