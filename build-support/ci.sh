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
# The builder and deployer images (podman where no docker daemon runs; local Debian bases
# where no registry answers), for the tests that run every task in its image. Cached: a
# second run with nothing changed takes seconds.
echo "==> setup: images (build-support/images.sh)" >&2
bash build-support/images.sh >&2 || failed_steps+=("images")
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/build-support/containers.conf}"
# The infra resolve as a venv: the pipeline stage's tests deploy infra/ with it.
./pants export --resolve=infra >&2 || failed_steps+=("export infra")

# The stage tests install the sample app's toolchain with pip inside Pants' sandbox, where the
# machine's pip config is hidden (pants.toml sets PIP_CONFIG_FILE=/dev/null for pex): give
# that pip the machine's TLS roots, the bundle pants.toml's ca_certs_path names, as PIP_CERT
# (pants.toml's [test] passes it on).
SYSTEM_ROOTS=/etc/ssl/certs/ca-certificates.crt
if [[ -z "${PIP_CERT:-}" && -s "${SYSTEM_ROOTS}" ]]; then
  export PIP_CERT="${SYSTEM_ROOTS}"
fi

rm -rf "${REPORTS}"
step "BUILD files"  tailor --check update-build-files --check ::
step "lint"         lint ::
step "type check"   check ::
step "tests"        test ::
# Wheels of an earlier version would pass for this one in the check below.
rm -f dist/aphex_*.whl dist/aphex_*.tar.gz
step "package"      package --filter-target-type=-docker_image ::

# Each package's wheel carries its one version (version.py's __version__, through the
# aphex_version plugin) in its name and METADATA, and its py.typed; moto is only an extra.
echo "==> wheels: version, py.typed, extras" >&2
if python3 - <<'PY'
import sys, zipfile
from pathlib import Path

sys.path.insert(0, "pants-plugins/aphex_version")
from version_file import read_version

problems = []
for name in ("config", "generator", "monitoring", "stages"):
    before = len(problems)
    version_py = Path(f"packages/{name}/src/aphex_{name}/version.py")
    version = read_version(version_py.read_text(encoding="utf-8"), str(version_py))
    expected = Path(f"dist/aphex_{name}-{version}-py3-none-any.whl")
    others = sorted(map(str, set(Path("dist").glob(f"aphex_{name}-*.whl")) - {expected}))
    if others or not expected.is_file():
        problems.append(f"{version_py} says {version}: expected {expected}, found {others}")
        continue
    with zipfile.ZipFile(expected) as wheel:
        metadata = wheel.read(f"aphex_{name}-{version}.dist-info/METADATA").decode()
        if f"aphex_{name}/py.typed" not in wheel.namelist():
            problems.append(f"{expected}: no aphex_{name}/py.typed")
    if f"\nVersion: {version}\n" not in metadata:
        problems.append(f"{expected}: METADATA does not say Version: {version}")
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist: moto") and 'extra == "local"' not in line:
            problems.append(f"{expected}: moto outside the local extra: {line}")
    if len(problems) == before:
        print(f"{expected}: ok", file=sys.stderr)
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then
  echo "==> wheels: ok" >&2
else
  echo "==> wheels: FAILED" >&2
  failed_steps+=("wheels")
fi

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
