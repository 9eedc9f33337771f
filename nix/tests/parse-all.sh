#!/usr/bin/env bash
# Parses every tracked .nix file with `nix-instantiate --parse`.
# Needs only nix-instantiate (no nixpkgs). Exit 1 if any file fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v nix-instantiate >/dev/null || { echo "parse-all: nix-instantiate not found" >&2; exit 2; }

failed=0 count=0
while IFS= read -r -d '' f; do
  count=$((count + 1))
  if ! nix-instantiate --parse "$f" >/dev/null; then
    echo "parse-all: FAILED $f" >&2
    failed=$((failed + 1))
  fi
done < <(git ls-files -z -- '*.nix')

if [ "$count" -eq 0 ]; then
  echo "parse-all: no tracked .nix files" >&2
  exit 1
fi
echo "parse-all: $((count - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
