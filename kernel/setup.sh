#!/usr/bin/env bash
# kernel/setup.sh: the one setup script of PolicyLab.
#
# Used by `make setup`, `make lab`, .ci/run and both Dockerfiles, so that a
# laptop, CI and a container are set up by exactly the same steps. It is
# idempotent: every step checks first and skips what is already in place, so
# a re-run takes seconds.
#
# What it installs:
#   1. Debian packages: jupyter-notebook jupyter-nbconvert python3-nbclient;
#      for the ROS 2 bridge (cgo), Eclipse Cyclone DDS 0.10 (cyclonedds-dev),
#      SQLite (libsqlite3-dev, to read rosbag2 recordings) and g++; and,
#      with --test, chromium for the browser chart test and Fast DDS
#      (libfastrtps-dev) for the interop test's peer.
#   2. The Go toolchain named by the `toolchain` line of go.mod (downloaded
#      through the Go module proxy; the machine's own go may be older).
#   3. GoNB, gopls and goimports at the versions pinned by the `tool` lines of
#      kernel/tools/go.mod, into $(go env GOPATH)/bin.
#   4. The GoNB Jupyter kernel (gonb --install), with the toolchain pinned in
#      its kernel.json so notebooks build with the same Go as `make test`.
#   5. The echarts script from the npm registry (kernel/package-lock.json),
#      which lessons/plot inlines into notebooks: charts render offline.
#   6. Our Go module dependencies (go mod download), so notebooks compile
#      without waiting on the network.
#
# Flags:
#   --test     also install what the test suite needs (chromium).
#   --bench    also install the PyTorch peer's needs (python3-torch,
#              libopenblas0-pthread) for `make bench`.
#   --no-apt   never call apt-get; fail with the list of missing packages.
#   --check    only report what is missing; change nothing (exit 1 if any).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WITH_TEST=0
WITH_BENCH=0
NO_APT=0
CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    --bench) WITH_BENCH=1 ;;
    --no-apt) NO_APT=1 ;;
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "setup: unknown flag $arg (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
missing=()

# --- 1. Debian packages -----------------------------------------------------
APT_PKGS=(jupyter-notebook jupyter-nbconvert python3-nbclient python3-jupyter-client cyclonedds-dev libsqlite3-dev g++)
# npm may come from Debian or from a nodejs package that bundles it.
command -v npm >/dev/null || APT_PKGS+=(npm)
if [[ $WITH_TEST == 1 ]]; then APT_PKGS+=(chromium libfastrtps-dev); fi
if [[ $WITH_BENCH == 1 ]]; then APT_PKGS+=(python3-torch libopenblas0-pthread); fi
need_apt=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    need_apt+=("$p")
  fi
done
if [[ ${#need_apt[@]} -gt 0 ]]; then
  if [[ $CHECK_ONLY == 1 ]]; then
    missing+=("Debian packages: ${need_apt[*]}")
  elif [[ $NO_APT == 1 ]]; then
    die "missing Debian packages: ${need_apt[*]} (install them: apt-get install ${need_apt[*]})"
  else
    SUDO=""
    if [[ $(id -u) != 0 ]]; then
      command -v sudo >/dev/null || die "need root or sudo to install: ${need_apt[*]}"
      SUDO=sudo
    fi
    say "installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  fi
else
  say "Debian packages present: ${APT_PKGS[*]}"
fi

# --- 2. Go toolchain --------------------------------------------------------
command -v go >/dev/null || die "no 'go' on PATH: install Go 1.22 or newer first (https://go.dev/doc/install)"
TOOLCHAIN="$(awk '$1=="toolchain"{print $2}' "$ROOT/go.mod")"
[[ -n "$TOOLCHAIN" ]] || die "go.mod has no toolchain line"
export GOTOOLCHAIN="$TOOLCHAIN"
if [[ $CHECK_ONLY == 1 ]]; then
  GOTOOLCHAIN=local go version >/dev/null 2>&1 || true
else
  got="$(cd "$ROOT" && go env GOVERSION)" || die "could not get Go toolchain $TOOLCHAIN through the module proxy"
  [[ "$got" == "$TOOLCHAIN" ]] || die "wanted Go $TOOLCHAIN, got $got"
  say "Go toolchain $got"
fi
GOBIN_DIR="$(cd "$ROOT" && go env GOBIN)"
[[ -n "$GOBIN_DIR" ]] || GOBIN_DIR="$(cd "$ROOT" && go env GOPATH)/bin"
export PATH="$GOBIN_DIR:$PATH"

# --- 3. GoNB, gopls, goimports (tool lines of kernel/tools/go.mod) ----------
tools_ok=1
for t in gonb gopls goimports; do
  [[ -x "$GOBIN_DIR/$t" ]] || tools_ok=0
done
# A stamp holds the hash of kernel/tools/go.sum the tools were built from, so
# a version bump in go.mod rebuilds them and a re-run skips the build.
STAMP="$GOBIN_DIR/.policylab-tools"
want_stamp="$(sha256sum "$ROOT/kernel/tools/go.sum" | cut -c1-16)-$TOOLCHAIN"
if [[ $tools_ok == 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
  say "GoNB, gopls, goimports present in $GOBIN_DIR"
elif [[ $CHECK_ONLY == 1 ]]; then
  missing+=("Go tools (gonb, gopls, goimports)")
else
  say "building GoNB, gopls and goimports (kernel/tools/go.mod) into $GOBIN_DIR (first time: about 2 minutes)"
  mkdir -p "$GOBIN_DIR"
  (cd "$ROOT/kernel/tools" && GOBIN="$GOBIN_DIR" go install tool)
  echo "$want_stamp" >"$STAMP"
fi

# --- 4. GoNB Jupyter kernel -------------------------------------------------
JUPYTER_DATA="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
KJSON="$JUPYTER_DATA/kernels/gonb/kernel.json"
kernel_ok=0
# The notebooks' build is make's: GoMLX's SIMD kernels on x86-64 (see
# Makefile), unless GOEXPERIMENT is set, even to nothing (the portable build).
if [[ -z "${GOEXPERIMENT+set}" && "$(uname -m)" == x86_64 ]]; then
  KERNEL_GOEXPERIMENT=simd
else
  KERNEL_GOEXPERIMENT="${GOEXPERIMENT:-}"
fi
if [[ -f "$KJSON" ]] && /usr/bin/python3 - "$KJSON" "$GOBIN_DIR/gonb" "$TOOLCHAIN" "$KERNEL_GOEXPERIMENT" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
env = k.get("env", {})
ok = k["argv"][0] == sys.argv[2] and env.get("GOTOOLCHAIN") == sys.argv[3] and env.get("GOEXPERIMENT", "") == sys.argv[4]
sys.exit(0 if ok else 1)
PY
then kernel_ok=1; fi
if [[ $kernel_ok == 1 ]]; then
  say "GoNB kernel installed: $KJSON (GOEXPERIMENT=${KERNEL_GOEXPERIMENT:-none})"
elif [[ $CHECK_ONLY == 1 ]]; then
  missing+=("GoNB Jupyter kernel")
else
  say "installing the GoNB kernel"
  (cd /tmp && "$GOBIN_DIR/gonb" --install --logtostderr >/dev/null 2>&1) || (cd /tmp && "$GOBIN_DIR/gonb" --install)
  # Pin the toolchain and put the Go tools on the kernel's PATH: Jupyter may
  # be started from a shell (or a desktop launcher) that has neither.
  /usr/bin/python3 - "$KJSON" "$TOOLCHAIN" "$GOBIN_DIR" "$(dirname "$(command -v go)")" "$KERNEL_GOEXPERIMENT" <<'PY'
import json, os, sys
path, toolchain, gobin, gobindir, experiment = sys.argv[1:]
k = json.load(open(path))
env = k.setdefault("env", {})
env["GOTOOLCHAIN"] = toolchain
# The same build as `make`: SIMD kernels on x86-64, guarded (see Makefile).
if experiment:
    env["GOEXPERIMENT"] = experiment
else:
    env.pop("GOEXPERIMENT", None)
parts = [gobin, gobindir] + [p for p in os.environ.get("PATH", "").split(":") if p and p not in (gobin, gobindir)]
env["PATH"] = ":".join(parts)
k["display_name"] = "Go (gonb)"
tmp = path + ".tmp"
json.dump(k, open(tmp, "w"), indent=1)
os.replace(tmp, path)
PY
  say "GoNB kernel installed: $KJSON (GOEXPERIMENT=${KERNEL_GOEXPERIMENT:-none})"
fi

# --- 5. echarts from the npm registry ---------------------------------------
ECHARTS="$ROOT/kernel/node_modules/echarts/dist/echarts.min.js"
want_echarts="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/echarts"]["version"])' "$ROOT/kernel/package-lock.json")"
have_echarts=""
if [[ -f "$ROOT/kernel/node_modules/echarts/package.json" ]]; then
  have_echarts="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$ROOT/kernel/node_modules/echarts/package.json")"
fi
if [[ -f "$ECHARTS" && "$have_echarts" == "$want_echarts" ]]; then
  say "echarts $have_echarts present"
elif [[ $CHECK_ONLY == 1 ]]; then
  missing+=("echarts $want_echarts (npm)")
else
  command -v npm >/dev/null || die "no npm on PATH (Debian package npm)"
  say "fetching echarts $want_echarts from the npm registry (kernel/package-lock.json)"
  (cd "$ROOT/kernel" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  [[ -f "$ECHARTS" ]] || die "npm ci ran but $ECHARTS is missing"
fi

# --- 6. Go module dependencies ---------------------------------------------
if [[ $CHECK_ONLY == 0 ]]; then
  (cd "$ROOT" && go mod download) || die "go mod download failed (is the Go module proxy reachable?)"
  say "Go modules downloaded"
fi

if [[ $CHECK_ONLY == 1 ]]; then
  if [[ ${#missing[@]} -gt 0 ]]; then
    printf '[setup] missing: %s\n' "${missing[@]}"
    exit 1
  fi
  say "everything is in place"
  exit 0
fi
say "done. Start the course with: make lab"
