#!/bin/bash
# The README's first program runs and says what it computed.
set -euo pipefail
output="$("$1")"
[ "$output" == "fetch(2) + fetch(3) + fetch(4) = 4 + 9 + 16 = 29" ] || {
  echo "FAIL: examples/first printed: $output" >&2
  exit 1
}
