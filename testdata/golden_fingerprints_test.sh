#!/bin/bash
# Runs every line of golden_fingerprints.txt through the simulation runner and compares the
# fingerprint and verdict. With --update (under `bazel run`), rewrites the file in the source
# tree with what the runner prints now, and shows each change.
set -euo pipefail
simulate="$1"
golden="$2"
update=false
[ "${3:-}" == "--update" ] && update=true

if $update; then
  [ -n "${BUILD_WORKSPACE_DIRECTORY:-}" ] || { echo "--update needs bazel run" >&2; exit 2; }
  target="$BUILD_WORKSPACE_DIRECTORY/testdata/golden_fingerprints.txt"
  new="$(mktemp)"
fi

mismatches=0
while IFS= read -r line; do
  if [[ -z "$line" || "$line" == \#* ]]; then
    $update && echo "$line" >> "$new"
    continue
  fi
  flags="${line%% => *}"
  expected="${line##* => }"
  [[ "$line" == *" => "* && "$expected" =~ ^[0-9a-f]{16}\ (ok|FAILED)$ ]] ||
    { echo "malformed line in golden_fingerprints.txt: $line" >&2; exit 2; }
  set +e
  run="$("$simulate" $flags | head -1)"
  set -e
  got="$(echo "$run" | sed -nE 's/.* fingerprint=([0-9a-f]{16}) (ok|FAILED) .*/\1 \2/p')"
  [ -n "$got" ] || { echo "no run line from simulate $flags: $run" >&2; exit 2; }
  if [ "$got" != "$expected" ]; then
    mismatches=$((mismatches + 1))
    echo "CHANGED: simulate $flags"
    echo "  golden: $expected"
    echo "  now:    $got   ($run)"
  fi
  $update && echo "$flags => $got" >> "$new"
done < "$golden"

if $update; then
  mv "$new" "$target"
  echo "updated $target ($mismatches changed)"
  exit 0
fi
if [ "$mismatches" -gt 0 ]; then
  echo "$mismatches golden fingerprint(s) changed. If the change is intended, refresh with:"
  echo "  bazel run //testdata:golden_fingerprints_test -- --update"
  exit 1
fi
echo "PASS: every golden fingerprint matches"
