#!/usr/bin/env bash
# The main job: a local pipeline run of the bundled sample app, then self-modification.
#
#   build-support/local-demo.sh            tasks run as host processes
#   build-support/local-demo.sh --images   every task runs in its real image (built first by
#                                          build-support/images.sh), as pods do on a cluster
#
# On a fresh machine it sets everything up first (Pants, the four wheels in a venv made
# from the locked resolve, the pinned CDK CLI with `npm ci`). It
# then copies examples/sample-app into a git repository in dist/local-demo/, runs
# `aphex run --local` there, commits a config change that adds an environment, and runs
# again: the new environment is deployed in that same run. Logs stay in the demo
# repository's .aphex/local/runs/ (printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
IMAGES=()
case "${1:-}" in
  "") ;;
  --images) IMAGES=(--images) ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "local-demo.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac
step() { echo; echo "==> $*"; }

step "set-up: Pants, the aphex packages and their locked dependencies"
export PANTS_PANTSD="${PANTS_PANTSD:-false}"
# What the set-up is made from: the packages' sources, the lockfiles and the Pants config,
# committed or not. The same inputs as last time and the venvs still there: nothing to do.
STAMP_FILE="$ROOT/dist/.local-demo-setup"
STAMP="$( { git ls-files -s -- packages infra 3rdparty pants.toml BUILD; \
  git diff HEAD -- packages infra 3rdparty pants.toml BUILD; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" ]] \
  && ls -d "$ROOT"/dist/export/python/virtualenvs/packages/3.11*/bin/aphex >/dev/null 2>&1 \
  && ls -d "$ROOT"/dist/export/python/virtualenvs/infra/3.11*/ >/dev/null 2>&1; then
  echo "unchanged since the last set-up (dist/.local-demo-setup); skipping the packaging"
else
  rm -f "$STAMP_FILE"
  ./pants package packages/config:dist packages/generator:dist packages/stages:dist \
    packages/monitoring:dist >/dev/null
  ./pants export --resolve=packages --resolve=infra >/dev/null
  VENV="$(ls -d "$ROOT"/dist/export/python/virtualenvs/packages/3.11*/ | head -n 1)"
  "$VENV/bin/pip" install --quiet --no-deps --force-reinstall "$ROOT"/dist/aphex_*-py3-none-any.whl
  echo "$STAMP" >"$STAMP_FILE"
fi
VENV="$(ls -d "$ROOT"/dist/export/python/virtualenvs/packages/3.11*/ | head -n 1)"
# The pipeline stage deploys the pipeline's own stacks (what moto can hold) from infra/.
export APHEX_INFRA_APP="$ROOT/infra"
export APHEX_INFRA_BIN="$(ls -d "$ROOT"/dist/export/python/virtualenvs/infra/3.11*/ | head -n 1)bin"
echo "aphex installed in $VENV"

step "set-up: the pinned CDK CLI (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
export APHEX_CDK_CLI="$ROOT/node_modules/.bin/cdk"
# The sample app's own packages come from its config's toolchain, installed by the first
# environment stage into a cache (~/.cache/aphex/volumes, or the engine's volume with
# --images) and reused after.

if ((${#IMAGES[@]})); then
  step "the images: build-support/images.sh (cached: quick when nothing changed)"
  bash build-support/images.sh
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/build-support/containers.conf}"
fi

# The demo repository stays in dist/ (not /tmp) for its logs and records; a new demo
# replaces the last one.
WORK="$ROOT/dist/local-demo/sample-app"
rm -rf "$ROOT/dist/local-demo"
mkdir -p "$WORK"
step "the sample app as a git repository: $WORK"
cp -R examples/sample-app/. "$WORK/"
rm -rf "$WORK/cdk.out" "$WORK/.aphex"
git -C "$WORK" init --quiet --initial-branch=main
git -C "$WORK" -c user.name=aphex -c user.email=aphex@localhost add -A
git -C "$WORK" -c user.name=aphex -c user.email=aphex@localhost commit --quiet -m "sample app"

step "run 1: the pipeline for $(git -C "$WORK" rev-parse --short HEAD)"
"$VENV/bin/aphex" run --local "$WORK" --approve all "${IMAGES[@]}"

step "commit: add an environment 'qa' (depends on dev) to aphex-config.yaml"
"$VENV/bin/python" build-support/add_environment.py "$WORK/aphex-config.yaml" qa
git -C "$WORK" -c user.name=aphex -c user.email=aphex@localhost commit --quiet -am "add qa"

step "run 2: the same single run applies the new topology and deploys qa"
"$VENV/bin/aphex" run --local "$WORK" --approve all "${IMAGES[@]}"

echo
echo "logs and run records (image, command, outcome) of every task: $WORK/.aphex/local/runs/"
echo "history: (cd $WORK && $VENV/bin/aphex runs list)"
