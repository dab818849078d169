#!/usr/bin/env bash
# Micro benchmarks side by side: CPU seconds (user+sys, best of N runs) for lo, lua5.4 and python3.
# Usage: bench/micro/run.sh [N]   (needs a release build: swift build -c release --product lo)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lo="$here/../../.build/release/lo"
n=${1:-3}
cpu() {  # best CPU time over n runs of a command
    local best=""
    for _ in $(seq "$n"); do
        local t
        t=$( { /usr/bin/time -f "%U %S" "$@" >/dev/null; } 2>&1 | tail -1 | awk '{print $1 + $2}')
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    done
    echo "$best"
}
# lo works in an image (./living.image by default): make one in a scratch folder, then run without
# committing so every run starts from the same image.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$lo" eval 'nil' >/dev/null 2>&1
startup=$(cpu "$lo" eval --no-commit 'nil')
for bench in fib loop; do
    lo_t=$(cpu "$lo" run --no-commit "$here/$bench.st")
    lua_t=$( command -v lua5.4 >/dev/null && cpu lua5.4 "$here/$bench.lua" || echo "n/a")
    py_t=$(cpu python3 "$here/$bench.py")
    echo "$bench: lo $lo_t s (incl. ${startup} s start-up) · lua5.4 $lua_t s · python3 $py_t s"
done
