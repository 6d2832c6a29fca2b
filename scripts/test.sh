#!/usr/bin/env bash
# Set up everything (with test tools), start PostgreSQL and a vLLM server on loopback, run
# the whole test suite, and stop the vLLM server again.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not browser"`.
# CNTRL_TEST_VLLM=0 leaves vLLM out (its tests are then skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
pg_line="$(bash scripts/postgres.sh)"
export "${pg_line?}"
if [ "${CNTRL_TEST_VLLM:-1}" != 0 ]; then
  vllm_line="$(bash scripts/vllm_server.sh start)"
  export "${vllm_line?}"
  trap 'bash scripts/vllm_server.sh stop' EXIT
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m pytest -p no:cacheprovider "$@"
