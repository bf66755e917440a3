#!/usr/bin/env bash
# Run the whole performance suite, one benchmark after another (never two at once: they
# time wall clock, and this machine has 2 cores).
#
#   bench/run_all.sh [OUT_DIR]        (default dist/bench)
#
# Set-up first, as the local demo's: the exported `packages` and `infra` resolves (the
# interpreter with the packages' dependencies; the pipeline's own CDK app) and the pinned
# CDK CLI (`npm ci`); the sample app's venv is made by the scripts when missing. Each
# script's output goes to OUT_DIR/<name>.txt; their JSON lines (the last line of each) are
# collected in OUT_DIR/results.jsonl. Exit status 1 if any benchmark failed or missed its
# target (the others still run).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-dist/bench}"
mkdir -p "$OUT"
export PANTS_PANTSD="${PANTS_PANTSD:-false}"

echo "==> set-up: exported resolves and the pinned CDK CLI"
./pants export --resolve=packages --resolve=infra >/dev/null
npm ci --no-audit --no-fund --loglevel=error
PYTHON="$(ls -d dist/export/python/virtualenvs/packages/3.11*/ | head -n 1)bin/python"

status=0
: >"$OUT/results.jsonl"
for name in scale clone image_payloads environment_stage pipeline_overhead waves \
  self_modification; do
  echo
  echo "==> bench/$name.py (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! "$PYTHON" "bench/$name.py" | tee "$OUT/$name.txt"; then
    echo "bench/$name.py failed or missed its target" >&2
    status=1
  fi
  tail -n 1 "$OUT/$name.txt" >>"$OUT/results.jsonl"
done
echo
echo "JSON lines: $OUT/results.jsonl"
exit "$status"
