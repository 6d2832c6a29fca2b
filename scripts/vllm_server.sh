#!/usr/bin/env bash
# Start or stop a background vLLM server for the test suite and print its URL.
#
#   bash scripts/vllm_server.sh start [PORT]   # installs (idempotently), starts, prints CNTRL_VLLM_URL=...
#   bash scripts/vllm_server.sh stop           # stops the server this script started (by its PID)
#
# The server is scripts/serve_vllm.sh on 127.0.0.1 with the default model, the trained
# adapter and the CNTRL plugin. `start` returns at once: the server needs about a minute
# to get ready, and the tests wait for /v1/models themselves (tests/conftest.py). A server
# this script already started and that still runs is kept. Its log is .venv-vllm/server.log.
# The only line on stdout is the URL, so callers can do: export "$(bash scripts/vllm_server.sh start)"
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2
VENV="${CNTRL_VLLM_VENV:-$(pwd)/.venv-vllm}"
PIDFILE="$VENV/server.pid"
PORTFILE="$VENV/server.port"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    PORT="${2:-8011}"
    bash scripts/serve_vllm.sh --install-only
    if running && [ "$(cat "$PORTFILE" 2>/dev/null)" = "$PORT" ]; then
      echo "[vllm_server] already running (PID $(cat "$PIDFILE"), port $PORT)"
    else
      # 3>&- : the server must not hold the caller's stdout (fd 3), or "$(... start)" never returns.
      setsid bash scripts/serve_vllm.sh --port "$PORT" > "$VENV/server.log" 2>&1 < /dev/null 3>&- &
      echo $! > "$PIDFILE"
      echo "$PORT" > "$PORTFILE"
      echo "[vllm_server] starting on port $PORT (PID $!, log $VENV/server.log)"
    fi
    echo "CNTRL_VLLM_URL=http://127.0.0.1:$PORT/v1" >&3
    ;;
  stop)
    if running; then
      pid="$(cat "$PIDFILE")"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      echo "[vllm_server] stopped PID $pid"
    fi
    rm -f "$PIDFILE" "$PORTFILE"
    ;;
  *) echo "usage: bash scripts/vllm_server.sh start [PORT] | stop" >&2; exit 2 ;;
esac
