#!/usr/bin/env bash
# Create (once) the Python venv that runs examples/sample-app: its CDK app and its
# post-deployment tests. Prints the venv's path as the only line on stdout.
#
#   build-support/setup-sample-env.sh            # progress on stderr, path on stdout
#   VENV=$(build-support/setup-sample-env.sh) && PATH="$VENV/bin:$PATH" ...
#
# The venv is ${APHEX_CACHE_DIR:-~/.cache/aphex}/sample-app-venv-<hash>, where <hash> covers
# requirements.txt, requirements-test.txt and the interpreter's version: a changed pin gets a
# new venv, an unchanged one is reused (a marker file says the install completed; a half-made
# venv is rebuilt). Concurrent callers wait on a lock. pip runs with the machine's own config.
# Interpreter: $APHEX_SAMPLE_PYTHON, else python3.11 or python3 if it is 3.11.
# On error: one line on stderr, exit 1.
set -euo pipefail

SAMPLE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples/sample-app" && pwd)"
REQUIREMENTS=("${SAMPLE_DIR}/requirements.txt" "${SAMPLE_DIR}/requirements-test.txt")
# HOME may be unset in a sandbox (Pants passes few variables); ~ then comes from passwd.
CACHE_DIR="${APHEX_CACHE_DIR:-${HOME:-$(cd ~ && pwd)}/.cache/aphex}"
# pip must use the machine's own pip config; Pants sets PIP_CONFIG_FILE=/dev/null for pex.
if [[ "${PIP_CONFIG_FILE:-}" == /dev/null ]]; then unset PIP_CONFIG_FILE; fi

say() { echo "setup-sample-env: $*" >&2; }
die() { echo "setup-sample-env: error: $*" >&2; exit 1; }
version_of() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null; }

if [[ -n "${APHEX_SAMPLE_PYTHON:-}" ]]; then
  PYTHON="${APHEX_SAMPLE_PYTHON}"
  py_version="$(version_of "${PYTHON}")" || die "APHEX_SAMPLE_PYTHON=${PYTHON} does not run"
  [[ "${py_version}" == 3.11.* ]] || die "${PYTHON} is Python ${py_version}; the sample app needs 3.11"
else
  PYTHON=""
  for candidate in python3.11 python3; do
    if py_version="$(version_of "${candidate}")" && [[ "${py_version}" == 3.11.* ]]; then
      PYTHON="${candidate}"
      break
    fi
  done
  [[ -n "${PYTHON}" ]] || die "no Python 3.11 found (python3.11, python3); set APHEX_SAMPLE_PYTHON"
fi
for file in "${REQUIREMENTS[@]}"; do
  [[ -f "${file}" ]] || die "missing ${file}"
done

hash="$( { cat "${REQUIREMENTS[@]}"; echo "python ${py_version}"; } | sha256sum | cut -c1-16)"
VENV="${CACHE_DIR}/sample-app-venv-${hash}"
MARKER="${VENV}/.aphex-complete"
LOG="${CACHE_DIR}/sample-app-venv-${hash}.log"

if [[ -f "${MARKER}" ]]; then
  say "reusing ${VENV}"
  echo "${VENV}"
  exit 0
fi

mkdir -p "${CACHE_DIR}" || die "cannot create ${CACHE_DIR}"
exec 9>"${VENV}.lock" || die "cannot open lock file ${VENV}.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  say "another setup is running; waiting for the lock on ${VENV}.lock"
  flock 9 || die "cannot lock ${VENV}.lock"
fi
if [[ -f "${MARKER}" ]]; then # another caller finished it while we waited
  say "reusing ${VENV}"
  echo "${VENV}"
  exit 0
fi

started=${SECONDS}
rm -rf "${VENV}"
: >"${LOG}"
say "creating ${VENV} with Python ${py_version}"
"${PYTHON}" -m venv "${VENV}" >>"${LOG}" 2>&1 || die "python -m venv failed; log: ${LOG}"

say "installing $(basename "${REQUIREMENTS[0]}") and $(basename "${REQUIREMENTS[1]}") (about 40 s with an empty pip cache; log: ${LOG})"
pip_args=(install --progress-bar off)
for file in "${REQUIREMENTS[@]}"; do pip_args+=(-r "${file}"); done
set +e
"${VENV}/bin/python" -m pip "${pip_args[@]}" 2>&1 | tee -a "${LOG}" \
  | grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' \
  | sed -u 's/^/  /' >&2
pip_status=${PIPESTATUS[0]}
set -e
if ((pip_status != 0)); then
  cause="$(grep -E '^ERROR:' "${LOG}" | tail -n 1 || true)"
  die "pip install failed (${cause:-exit ${pip_status}}); log: ${LOG}"
fi

"${VENV}/bin/python" -c 'import aws_cdk, constructs, pytest, boto3' >>"${LOG}" 2>&1 \
  || die "the new venv cannot import aws_cdk/constructs/pytest/boto3; log: ${LOG}"
date -u +%Y-%m-%dT%H:%M:%SZ >"${MARKER}"
say "ready in $((SECONDS - started)) s"
echo "${VENV}"
