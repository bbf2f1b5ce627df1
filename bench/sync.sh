#!/usr/bin/env bash
# sync.sh: Map.Sync against clear and reload on 1M-element maps, with the
# parallel walk (Workers 1 and 2), in about 10 minutes on a 2-core machine.
# Run it from anywhere, as root: bash bench/sync.sh
#
# Output (in bench/results/):
#   sync.txt          raw go test -bench output of every round, with the
#                     machine description and load averages
#   sync-ratios.txt   per case: median ms per call of every variant (wall
#                     and process CPU), Sync/reload and the A/A control as
#                     the median and [min-max] of per-round ratios, the
#                     walk / diff / writes split, the targets met or missed
#                     (go run ./cmd/syncratios results/sync.txt)
#
# Protocol: ROUNDS (default 5) runs of BenchmarkSyncInterleaved
# (bench/syncinterleaved_test.go), each CALLS (default 3x) groups of calls
# per case, a group being one call of each variant in a random order drawn
# anew for every group (seeded by the round, BENCH_ROUND). Each round
# creates and fills its maps afresh.
#
# SUMMARY_ONLY=1 skips the runs and summarises results/sync.txt again.
set -euo pipefail

cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-5}
CALLS=${CALLS:-3x}
out=results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "${SUMMARY_ONLY:-0}" != 1 ]; then
echo "building the benchmark binary..."
go test -c -o "$tmp/bench.test" .

nice=()
if nice -n -20 true 2>/dev/null; then
	nice=(nice -n -20)
fi

{
	echo "kernel: $(uname -sr) $(uname -m)"
	echo "cores: $(nproc)"
	echo "go: $(go env GOVERSION)"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "command: bash bench/sync.sh (ROUNDS=$ROUNDS CALLS=$CALLS)"
	echo "loadavg-at-start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
} >"$out/sync.txt"

start=$SECONDS
for r in $(seq 0 $((ROUNDS - 1))); do
	echo "round $r (load $(cut -d' ' -f1 /proc/loadavg))"
	# Not a "key: value" line: benchstat would take it for a configuration.
	echo "# round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/sync.txt"
	BENCH_ROUND=$r "${nice[@]}" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkSyncInterleaved$' \
		-test.benchtime "$CALLS" >>"$out/sync.txt"
done
echo "# at the end, load average $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - start)) s" >>"$out/sync.txt"
fi
if grep -q '^--- FAIL\|^FAIL' "$out/sync.txt"; then
	echo "a benchmark failed; see $out/sync.txt" >&2
	exit 1
fi

go run ./cmd/syncratios "$out/sync.txt" | tee "$out/sync-ratios.txt"
