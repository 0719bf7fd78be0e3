#!/usr/bin/env bash
# The detection benchmark with the detection core compiled to C by mypyc (shipped with mypy), to measure
# what compiling the pure-Python detectors buys. Builds into a temporary copy; the repo is untouched.
# Usage: bench/detect_native.sh [bench/detect.py arguments]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp -r "$root/server" "$build/"
cd "$build/server"
modules=(
  tickstock_server/domain/tick.py tickstock_server/domain/bar.py tickstock_server/domain/events.py
  tickstock_server/domain/market_session.py
  tickstock_server/detection/engine.py tickstock_server/detection/bars.py
  tickstock_server/detection/event_fields.py tickstock_server/detection/price_bucket.py
  tickstock_server/detection/high_low.py
  tickstock_server/detection/trend.py tickstock_server/detection/trend_config.py
  tickstock_server/detection/trend_windows.py
  tickstock_server/detection/surge.py tickstock_server/detection/surge_config.py
  tickstock_server/detection/surge_points.py tickstock_server/detection/surge_conditions.py
)
"$root/.venv/bin/mypyc" "${modules[@]}" >"$build/mypyc.log" 2>&1 || { cat "$build/mypyc.log" >&2; exit 1; }
PYTHONPATH="$build/server:$root/clients/python" "$root/.venv/bin/python" "$root/bench/detect.py" "$@"
