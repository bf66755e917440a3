#!/usr/bin/env bash
# The repository's test command: every check CI runs, through Pants, from a clean clone.
#   build-support/ci.sh            all checks, then the closing line "N passed, N failed"
# It bootstraps Pants itself (./pants) and needs nothing installed by hand.
# Exit status: 0 only if every check passed and at least one test ran.
set -uo pipefail
cd "$(dirname "$0")/.."

export PANTS_PANTSD="${PANTS_PANTSD:-false}"
REPORTS="dist/test/reports"
failed_steps=()

step() {
  local label="$1"; shift
  echo "==> ${label}: ./pants $*" >&2
  local started=$SECONDS
  if ./pants "$@"; then
    echo "==> ${label}: ok ($((SECONDS - started)) s)" >&2
  else
    echo "==> ${label}: FAILED ($((SECONDS - started)) s)" >&2
    failed_steps+=("$label")
  fi
}

# The pinned CDK CLI and the sample app's environment, which the stage tests drive.
echo "==> setup: npm ci (CDK CLI), sample app venv" >&2
npm ci --no-audit --no-fund --loglevel=error >&2 || failed_steps+=("npm ci")
bash build-support/setup-sample-env.sh >/dev/null || failed_steps+=("sample env")
# The infra resolve as a venv: the pipeline stage's tests deploy infra/ with it.
./pants export --resolve=infra >&2 || failed_steps+=("export infra")

rm -rf "${REPORTS}"
step "BUILD files"  tailor --check update-build-files --check ::
step "lint"         lint ::
step "type check"   check ::
step "tests"        test ::
step "package"      package --filter-target-type=-docker_image ::

# The images' closures: the committed listing must match what Pants puts in each pex
# (images/tests check the listing's properties; no Docker engine is needed).
echo "==> image closures: images/closures.sh" >&2
if bash images/closures.sh >&2 && git diff --exit-code images/closures.txt >&2; then
  echo "==> image closures: ok" >&2
else
  echo "==> image closures: FAILED (run images/closures.sh and commit the result)" >&2
  failed_steps+=("image closures")
fi

python3 build-support/junit_summary.py "${REPORTS}"
summary_status=$?

if ((${#failed_steps[@]})); then
  echo "failed steps: ${failed_steps[*]}" >&2
  exit 1
fi
exit "${summary_status}"
