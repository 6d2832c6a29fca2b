#!/usr/bin/env bash
# Set up everything (with test tools), start PostgreSQL on loopback, run the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not browser"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev --llama-cpp
pg_line="$(bash scripts/postgres.sh)"
export "${pg_line?}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
