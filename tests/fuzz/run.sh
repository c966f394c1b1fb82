#!/usr/bin/env bash
# Runs libFuzzer targets: each replays its seed corpus (tests/fuzz/corpus/<target>)
# and what earlier runs found (<build>/fuzz-corpus/<target>), then fuzzes for
# the given seconds. Exit 1 on the first target that breaks, naming the input.
# Usage: tests/fuzz/run.sh <fuzz build dir> <seconds per target> [target...]
set -euo pipefail

build=$1
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_request log_ring command_ring job_ring scribbled_segment)
source_dir=$(cd "$(dirname "$0")" && pwd)

for target in "${targets[@]}"; do
    binary="$build/tests/fuzz/fuzz_$target"
    found="$build/fuzz-corpus/$target"
    artifacts="$build/fuzz-artifacts"
    mkdir -p "$found" "$artifacts"
    log="$artifacts/$target.log"
    echo "fuzz: $target for ${seconds}s (corpus: $source_dir/corpus/$target)"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak.
    if ! "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target-" "$found" "$source_dir/corpus/$target" >"$log" 2>&1; then
        grep -E 'invariant broken|ERROR|SUMMARY|Test unit written' "$log" || tail -n 30 "$log"
        echo "fuzz: $target FAILED; full output in $log" >&2
        echo "      add the input to tests/fuzz/corpus/$target/regression-<what> and fix the cause" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $target ok, ${runs:-?} inputs executed, corpus $(ls "$found" | wc -l) found + $(ls "$source_dir/corpus/$target" | wc -l) seeds"
done
