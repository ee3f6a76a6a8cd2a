#!/usr/bin/env bash
# The suite under load: COPIES clones of this checkout's HEAD run the whole test suite at the same time,
# ROUNDS times in a row; prints each copy's closing line, its wall time and the load, and exits 1 if any
# run failed. A flaky test shows here before it shows in CI.
#
#   bash scripts/stress_suite.sh                       # 2 copies at once, 3 rounds
#   COPIES=2 ROUNDS=1 PYTEST_ARGS="-m 'not browser'" bash scripts/stress_suite.sh
#
# Uses the Python of the current environment (run it inside the project's venv); each clone is imported
# from its own folder (python -m pytest puts it first on sys.path); ../shared is found through MMCSE_SHARED.
set -uo pipefail
copies=${COPIES:-2}
rounds=${ROUNDS:-3}
src=$(git rev-parse --show-toplevel)
shared=${MMCSE_SHARED:-$(cd "$src/.." && pwd)/shared}
work=$(mktemp -d "${TMPDIR:-/tmp}/mmcse-stress.XXXXXX")
echo "HEAD $(git -C "$src" rev-parse --short HEAD); $copies copies x $rounds rounds in $work; $(nproc) cores"
for i in $(seq 1 "$copies"); do
  git clone -q "$src" "$work/copy$i"
done
failed=0
for r in $(seq 1 "$rounds"); do
  start=$(date +%s)
  for i in $(seq 1 "$copies"); do
    (
      cd "$work/copy$i" || exit 1
      eval "MMCSE_SHARED='$shared' python -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-}" >"log$r.txt" 2>&1
      echo $? >"rc$r.txt"
    ) &
  done
  load_samples=()
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
    load_samples+=("$(cut -d' ' -f1 /proc/loadavg)")
    sleep 20
  done
  wait
  secs=$(($(date +%s) - start))
  loads=$(printf '%s\n' "${load_samples[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
  for i in $(seq 1 "$copies"); do
    rc=$(cat "$work/copy$i/rc$r.txt")
    summary=$(grep -E "passed|failed|error" "$work/copy$i/log$r.txt" | tail -1)
    echo "round $r copy $i: exit $rc, $summary (round wall ${secs}s, load ${loads})"
    if [ "$rc" != 0 ]; then
      failed=1
      grep -E "^(FAILED|ERROR)" "$work/copy$i/log$r.txt" | head -20
    fi
  done
done
echo "logs in $work"
exit $failed
