#!/usr/bin/env bash
# One run of every benchmark on this machine, in sequence, with the date, the machine and the load
# printed around each: the README's benchmark table is written from one such run.
#   bench/run_all.sh > bench-run.txt 2>&1
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; commit $(git rev-parse --short HEAD)"
for bench in bench_startup bench_parse bench_document bench_diskcache bench_inventory bench_scale bench_blob_stream bench_copy bench_reexport \
             bench_gc bench_prune_plan bench_tui bench_tui_fill bench_gha bench_objstore; do
    [ -f "bench/$bench.py" ] || continue
    echo
    echo "=== $bench  (start $(date -u +%H:%M:%S); $(cut -d' ' -f1-3 /proc/loadavg) load)"
    case $bench in
        bench_scale) args=(3) ;;  # its fill and TUI phase take minutes: three rounds of the listings
        bench_document) args=(7 --against edf21e8) ;;  # before/after, same run
        *) args=() ;;
    esac
    "$PY" -m "bench.$bench" "${args[@]}"
    echo "--- exit $?"
done
