#!/usr/bin/env bash
# Local regression run: the unit tests, then the golden traces. Ends with one summary line.
# Usage: scripts/regression_local.sh   (from the repository, with .venv set up as the README says)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
[ -x "$bin/sage" ] || { echo "Set up first: python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'"; exit 2; }

"$bin/python" -m pytest -q -p no:cacheprovider
unit=$?
"$bin/sage" eval golden tests/goldens/*.yaml tests/fixtures/golden_trace_minimal.jsonl
golden=$?

verdict() { [ "$1" -eq 0 ] && echo passed || echo "FAILED ($1)"; }
echo "regression: unit tests $(verdict $unit), goldens $(verdict $golden)"
[ $unit -eq 0 ] && [ $golden -eq 0 ]
