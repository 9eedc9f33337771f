#!/usr/bin/env bash
# Prints the manifest the NixOS module emits for a configuration, as JSON.
#   nix/tests/emit-manifest.sh CASE                 a case of nix/tests/eval.nix (e.g. plain)
#   nix/tests/emit-manifest.sh --module FILE.nix    any NixOS-style module (evaluated against the stub)
# Needs nix-instantiate and <nixpkgs/lib> on NIX_PATH. Nothing is built: `file`
# values are emitted as given (use absolute string paths to real .age files).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--module" ]; then
  module=$(realpath "$2")
  exec nix-instantiate --eval --strict --json "$here/eval.nix" --arg module "$module" -A custom.manifest
fi
exec nix-instantiate --eval --strict --json "$here/eval.nix" -A "${1:?usage: emit-manifest.sh CASE | --module FILE}.manifest"
