#!/usr/bin/env bash
# libFuzzer over the parsers untrusted bytes reach first (control lines, webhook bodies, the
# settings file). Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 60). Crashes, hangs
# (-timeout) and leaks fail the run; the reproducer is left in .build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
work=.build-fuzz
mkdir -p "$work/artifacts"
swift build --package-path Fuzz --scratch-path "$work/build" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 \
    | grep -v "Cannot export local symbol" | tail -n 2
total=0
for target in FuzzRPCEnvelope FuzzWebhookPayload FuzzEnvironmentFile; do
    corpus="$work/corpus/$target"
    mkdir -p "$corpus"
    log="$work/$target.log"
    if ! "$work/build/debug/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
        -dict=Fuzz/json.dict -artifact_prefix="$work/artifacts/$target-" -print_final_stats=1 \
        "$corpus" "Fuzz/corpus/$target" >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $target failed; the input is in $work/artifacts/" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*')
    total=$((total + runs))
    echo "fuzz: $target: $runs inputs in ${seconds} s, coverage $coverage edges, no crash, hang or leak"
done
echo "fuzz: $total inputs in all"
