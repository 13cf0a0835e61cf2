#!/usr/bin/env bash
# Prints the path of a Bicep CLI binary on stdout (diagnostics go to stderr). In order:
#   1. $BICEP_BIN, when set;
#   2. `bicep` on PATH;
#   3. the Bicep binary managed by the Azure CLI (`az bicep`), when az is installed;
#   4. the NuGet package Azure.Bicep.CommandLine.<rid>, restored by `dotnet restore` of
#      tools/bicep/bicep-cli.csproj into tools/bicep/bin/packages (git-ignored, kept across runs).
# Exit status 0 with a path, 3 when no compiler can be had (callers decide whether that is fatal).
# BICEP_SOURCE=nuget skips 1-3 (the version pinned in tools/bicep/bicep-cli.csproj).
# BICEP_NO_RESTORE=1 never downloads (no `az bicep install`, no NuGet restore): only a compiler already
# on this machine is printed. The template tests use it, so a test run never reaches the network.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proj="$root/tools/bicep/bicep-cli.csproj"
log() { printf 'bicep-cli: %s\n' "$*" >&2; }
works() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ "${BICEP_SOURCE:-}" != "nuget" ]; then
  if [ -n "${BICEP_BIN:-}" ]; then
    if works "$BICEP_BIN"; then echo "$BICEP_BIN"; exit 0; fi
    log "BICEP_BIN=$BICEP_BIN is not a working bicep binary"; exit 3
  fi
  if p="$(command -v bicep 2>/dev/null)" && works "$p"; then echo "$p"; exit 0; fi
  if command -v az >/dev/null 2>&1; then
    # az keeps its own copy in ~/.azure/bin; `az bicep install` is a no-op when it is there already.
    [ -n "${BICEP_NO_RESTORE:-}" ] || az bicep install >/dev/null 2>&1 || true
    p="${AZURE_CONFIG_DIR:-$HOME/.azure}/bin/bicep"
    if works "$p"; then echo "$p"; exit 0; fi
    log "az is installed but 'az bicep install' gave no working binary; trying NuGet"
  fi
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) rid=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) rid=linux-arm64 ;;
  Darwin-x86_64) rid=osx-x64 ;;
  Darwin-arm64) rid=osx-arm64 ;;
  *) log "no Bicep CLI package for $(uname -s)-$(uname -m)"; exit 3 ;;
esac
version="$(sed -n 's:.*<BicepVersion[^>]*>\([^<]*\)</BicepVersion>.*:\1:p' "$proj" | head -n1)"
pkg="$(printf 'azure.bicep.commandline.%s' "$rid")"
bin="$root/tools/bicep/bin/packages/$pkg/$version/tools/bicep"

# NuGet writes .nupkg.metadata last, so its presence means a complete extraction: no need to start
# the (large, self-contained) binary just to check it.
cached() { [ -x "$bin" ] && [ -e "$(dirname "$(dirname "$bin")")/.nupkg.metadata" ]; }

if ! cached; then
  mkdir -p "$root/tools/bicep/bin"
  # One restore at a time: the test suite and scripts/bicep-check.sh may start together.
  exec 9>"$root/tools/bicep/bin/.restore.lock"
  flock 9 2>/dev/null || true
  if ! cached && [ -n "${BICEP_NO_RESTORE:-}" ]; then
    log "no Bicep CLI restored yet and BICEP_NO_RESTORE is set (run scripts/bicep-cli.sh once)"
    exit 3
  fi
  if ! cached && ! command -v dotnet >/dev/null 2>&1; then
    log "no bicep on PATH, no az, and no dotnet SDK to restore Azure.Bicep.CommandLine from NuGet"
    exit 3
  fi
  if ! cached; then
    log "restoring Azure.Bicep.CommandLine.$rid $version from NuGet (first run only)"
    start=$(date +%s)
    if ! DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
      dotnet restore "$proj" -p:BicepRid="$rid" --nologo -v quiet >&2; then
      log "dotnet restore of $proj failed"
      exit 3
    fi
    log "restored in $(( $(date +%s) - start )) s"
  fi
  chmod +x "$bin" 2>/dev/null || true
  if ! works "$bin"; then log "restored package has no working binary at $bin"; exit 3; fi
fi
echo "$bin"
