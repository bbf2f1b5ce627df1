#!/usr/bin/env bash
# run.sh: the comparison benchmark, from build to chart, in under 10 minutes
# on a 2-core machine. Run it from anywhere: bash bench/run.sh
#
# Output (in bench/results/):
#   latest.txt     raw go test -bench output of every round, with the machine
#                  description at the top
#   benchstat.txt  benchstat tables (medians, 95% intervals, vs the floor)
#   ratios.txt     bpfbatch / floor and bpfbatch / cilium per case, parallel
#                  speed-ups, and the targets met or missed
#   chart.png      ns per element by case and size, one bar per variant
#
# Protocol: ROUNDS (default 3) times, alternately: BenchmarkUpdate over every
# size (BENCHTIME, default 30ms, per variant), BenchmarkInterleaved below 1M
# and BenchmarkCallOverhead (ITIME, default 150ms), and BenchmarkUpdate
# below 1M once more (these cost little). After the first round, BenchmarkInterleaved at 1M once
# (IPASSES, default 2x: two alternating calls per variant). Extra rounds
# below 1M are skipped once BUDGET (default 450) seconds have passed.
set -euo pipefail

cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-3}
BENCHTIME=${BENCHTIME:-30ms}
ITIME=${ITIME:-150ms}
IPASSES=${IPASSES:-2x}
BUDGET=${BUDGET:-450}
start=$(date +%s)
out=results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building the benchmark binary, benchstat and the report tools..."
go test -c -o "$tmp/bench.test" .
go build -o "$tmp/ratios" ./cmd/ratios
go build -o "$tmp/chart" ./cmd/chart
go build -o "$tmp/benchstat" golang.org/x/perf/cmd/benchstat

# The machine may be shared: a higher priority keeps other processes'
# bursts out of most samples. Not fatal where it is not allowed.
nice=()
if nice -n -20 true 2>/dev/null; then
	nice=(nice -n -20)
fi

# "key: value" lines are configuration to benchstat and the report tools;
# the chart's title is made from them.
{
	echo "kernel: $(uname -sr) $(uname -m)"
	echo "cores: $(nproc)"
	echo "go: $(go env GOVERSION)"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "command: bash bench/run.sh"
	echo "loadavg-at-start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
} >"$out/latest.txt"

# One round is one go test run. Rounds alternate, so every pair of variants
# shares each period's noise; BENCH_ROUND rotates the order of the variants
# inside a round.
r=0
round() { # round BENCH-REGEX BENCHTIME
	echo "round $r: $1 -benchtime $2 ($(($(date +%s) - start)) s elapsed)"
	BENCH_ROUND=$r "${nice[@]}" "$tmp/bench.test" -test.run '^$' -test.bench "$1" \
		-test.benchtime "$2" >>"$out/latest.txt"
	r=$((r + 1))
}
update_all='^BenchmarkUpdate$'
update_small='^BenchmarkUpdate$/^map=/^n=(64|4096|65536)$'
inter_small='^Benchmark(Interleaved|CallOverhead)$/^map=/^n=(1|64|4096|65536)$'
inter_big='^BenchmarkInterleaved$/^map=/^n=1048576$'
for i in $(seq 1 "$ROUNDS"); do
	round "$update_all" "$BENCHTIME"
	if [ "$i" -eq 1 ]; then
		round "$inter_big" "$IPASSES"
	fi
	round "$inter_small" "$ITIME"
	if [ $(($(date +%s) - start)) -gt "$BUDGET" ]; then
		echo "over the ${BUDGET}s budget: skipping an extra round below 1M" | tee -a "$out/latest.txt"
	else
		round "$update_small" "$BENCHTIME"
	fi
done
echo "loadavg-at-end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/latest.txt"
if grep -q '^--- FAIL\|^FAIL' "$out/latest.txt"; then
	echo "a benchmark failed; see $out/latest.txt" >&2
	exit 1
fi

# benchstat: the libraries against the floor, bpfbatch against cilium (its
# p-values say whether a difference is noise), then the parallel and the
# per-element variants.
stat() { # stat TITLE IMPLS FILTER
	echo "## $1"
	echo
	"$tmp/benchstat" -col "/impl@($2)" -row '/map /n' -filter "$3" "$out/latest.txt"
	echo
}
{
	stat "Libraries against the raw floor" "floor bpfbatch bpfbatch-of cilium-bytes cilium-typed" '.unit:(ns/elem OR allocs/op)'
	stat "UpdateBatch against cilium/ebpf BatchUpdate, byte arrays" "cilium-bytes bpfbatch" '.unit:ns/elem'
	stat "UpdateBatchOf against cilium/ebpf BatchUpdate, typed" "cilium-typed bpfbatch-of" '.unit:ns/elem'
	stat "UpdateBatchWith: Workers and Chunk" "floor with-w1 with-w2 with-wmax with-w1-c4096 with-w2-c4096 with-w2-c65536" '.unit:(ns/elem OR allocs/op)'
	stat "One syscall per element" "floor elem cilium-put" '.unit:(ns/elem OR allocs/op)'
	echo "## BenchmarkInterleaved: the compared variants, calls alternating (one table per variant)"
	echo
	"$tmp/benchstat" -filter '.name:Interleaved' -row '/map /n' "$out/latest.txt"
} >"$out/benchstat.txt" 2>&1

"$tmp/ratios" "$out/latest.txt" | tee "$out/ratios.txt"
"$tmp/chart" -in "$out/latest.txt" -out "$out/chart.png"
echo
echo "wrote $out/latest.txt, $out/benchstat.txt, $out/ratios.txt, $out/chart.png in $(($(date +%s) - start)) s"
