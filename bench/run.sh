#!/usr/bin/env bash
# run.sh: the comparison benchmark, write and read side, from build to
# charts, in about 12 minutes on a 2-core machine. Run it from anywhere:
# bash bench/run.sh
#
# Output (in bench/results/):
#   latest.txt      raw go test -bench output of every round, with the machine
#                   description at the top
#   benchstat.txt   benchstat tables (medians, 95% intervals, vs the floor)
#   ratios.txt      bpfbatch / floor and bpfbatch / cilium per case, parallel
#                   speed-ups, the read side and Sync, and the targets met or
#                   missed
#   chart.png       writes: ns per element by case and size, one bar per variant
#   chart-read.png  reads: ns per element of a full walk by case and chunk;
#                   Sync against clear and reload
#
# Protocol, in ROUNDS (default 3) rounds that alternate the benchmarks so
# that each shares every period's noise:
#   writes: BenchmarkUpdate over every size in the first BIG_ROUNDS (default
#     2) rounds, below 1M in the others (BENCHTIME, default 30ms, per
#     variant); BenchmarkInterleaved at 1M once, in the first round
#     (IPASSES, default 1x: one call per variant), below 1M and
#     BenchmarkCallOverhead in every round (ITIME, default 150ms); an extra
#     BenchmarkUpdate below 1M per round while under BUDGET.
#   reads, in the first READ_ROUNDS (default 2) rounds: BenchmarkLookup
#     (at 1M RPASSES per variant, at 65536 RTIME, default 250ms; cilium's
#     Iterate in the first round only, the second round only while under
#     BUDGET), BenchmarkLookupInterleaved at 1M (RPASSES,
#     default 1x: one walk per variant and chunk), BenchmarkSync (STIME,
#     default 1x; the LPM trie in the first round only: its clear and
#     reload takes ~4 s a call). In every round BenchmarkLookupCallOverhead
#     (LTIME, default 1s); in the second BenchmarkLookupInterleaved at 65536
#     (RPASSES_SMALL, default 12x).
# BUDGET (default 540) seconds: the optional rounds are skipped after it.
set -euo pipefail

cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-3}
BIG_ROUNDS=${BIG_ROUNDS:-2}
READ_ROUNDS=${READ_ROUNDS:-2}
BENCHTIME=${BENCHTIME:-30ms}
ITIME=${ITIME:-150ms}
IPASSES=${IPASSES:-1x}
RTIME=${RTIME:-250ms}
STIME=${STIME:-1x}
RPASSES=${RPASSES:-1x}
RPASSES_SMALL=${RPASSES_SMALL:-12x}
LTIME=${LTIME:-1s}
BUDGET=${BUDGET:-540}
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
# cilium's Iterate (chunk=1) takes 2.5-5 s per 1M walk (two per case: the
# checked one and the timed one), so it runs in the first read round only.
# 1M walks take 0.2-1.3 s: one timed walk each; 65536 ones run for RTIME.
lookup_big_first='^BenchmarkLookup$/^map=/^n=1048576$'
lookup_big_rest='^BenchmarkLookup$/^map=/^n=1048576$/^chunk=(4096|65536)$'
lookup_small='^BenchmarkLookup$/^map=/^n=65536$'
lookup_call='^BenchmarkLookupCallOverhead$'
lookup_inter_big='^BenchmarkLookupInterleaved$/^map=/^n=1048576$'
lookup_inter_small='^BenchmarkLookupInterleaved$/^map=/^n=65536$'
sync_first='^BenchmarkSync$'
sync_rest='^BenchmarkSync$/^map=(hash-u64|percpu-hash-u64)$'
under_budget() {
	if [ $(($(date +%s) - start)) -gt "$BUDGET" ]; then
		echo "over the ${BUDGET}s budget: skipping $1" | tee -a "$out/latest.txt"
		return 1
	fi
}
for i in $(seq 1 "$ROUNDS"); do
	if [ "$i" -le "$BIG_ROUNDS" ]; then
		round "$update_all" "$BENCHTIME"
	else
		round "$update_small" "$BENCHTIME"
	fi
	if [ "$i" -eq 1 ]; then
		round "$inter_big" "$IPASSES"
	fi
	if [ "$i" -le "$READ_ROUNDS" ]; then
		if [ "$i" -eq 1 ]; then
			round "$lookup_big_first" "$RPASSES"
			round "$lookup_small" "$RTIME"
		elif under_budget "a BenchmarkLookup round"; then
			round "$lookup_big_rest" "$RPASSES"
			round "$lookup_small" "$RTIME"
		fi
		round "$lookup_inter_big" "$RPASSES"
		if [ "$i" -eq 1 ]; then
			round "$sync_first" "$STIME"
		else
			round "$sync_rest" "$STIME"
		fi
	fi
	round "$lookup_call" "$LTIME"
	round "$inter_small" "$ITIME"
	if [ "$i" -eq 2 ]; then
		round "$lookup_inter_small" "$RPASSES_SMALL"
	fi
	if under_budget "an extra BenchmarkUpdate round below 1M"; then
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
stat() { # stat TITLE IMPLS FILTER [ROWS]
	echo "## $1"
	echo
	"$tmp/benchstat" -col "/impl@($2)" -row "${4:-/map /n}" -filter "$3" "$out/latest.txt"
	echo
}
writes='.name:(Update OR CallOverhead)'
{
	stat "Libraries against the raw floor" "floor bpfbatch bpfbatch-of cilium-bytes cilium-typed" "$writes .unit:(ns/elem OR allocs/op)"
	stat "UpdateBatch against cilium/ebpf BatchUpdate, byte arrays" "cilium-bytes bpfbatch" "$writes .unit:ns/elem"
	stat "UpdateBatchOf against cilium/ebpf BatchUpdate, typed" "cilium-typed bpfbatch-of" "$writes .unit:ns/elem"
	stat "UpdateBatchWith: Workers and Chunk" "floor with-w1 with-w2 with-wmax with-w1-c4096 with-w2-c4096 with-w2-c65536" "$writes .unit:(ns/elem OR allocs/op)"
	stat "One syscall per element" "floor elem cilium-put" "$writes .unit:(ns/elem OR allocs/op)"
	echo "## BenchmarkInterleaved: the compared variants, calls alternating (one table per variant)"
	echo
	"$tmp/benchstat" -filter '.name:Interleaved' -row '/map /n' "$out/latest.txt"
	echo
	stat "Reads: full walks against the raw floor (same chunk; every variant walks the same map)" "floor bpfbatch cilium-bytes cilium-typed" '.name:Lookup .unit:(ns/elem OR cpu-ns/elem OR allocs/op)' '/map /n /chunk'
	stat "Reads: cilium/ebpf Iterate (chunk=1: per element)" "cilium-iterate" '.name:Lookup .unit:(ns/elem OR cpu-ns/elem OR allocs/op)' '/map /n /chunk'
	echo "## BenchmarkLookupInterleaved: the compared walks alternating (one table per variant)"
	echo
	"$tmp/benchstat" -filter '.name:LookupInterleaved' -row '/map /n /chunk' "$out/latest.txt"
	echo
	echo "## BenchmarkLookupCallOverhead: one element per call, walks alternating (ns/elem is ns per call)"
	echo
	"$tmp/benchstat" -filter '.name:LookupCallOverhead' -row '/map /n' "$out/latest.txt"
	echo
	stat "Sync against clear and reload" "sync-dry sync-w1 sync-w2 reload-w1 reload-w2" '.name:Sync .unit:(ns/elem OR allocs/op)'
} >"$out/benchstat.txt" 2>&1

"$tmp/ratios" "$out/latest.txt" | tee "$out/ratios.txt"
"$tmp/chart" -in "$out/latest.txt" -out "$out/chart.png"
"$tmp/chart" -read -in "$out/latest.txt" -out "$out/chart-read.png"
echo
echo "wrote $out/latest.txt, $out/benchstat.txt, $out/ratios.txt, $out/chart.png, $out/chart-read.png in $(($(date +%s) - start)) s"
