#!/usr/bin/env bash
# walk.sh: Map.Walk with Workers 2 against one walk, in about 6 minutes on a
# 2-core machine. Run it from anywhere: bash bench/walk.sh
#
# Output (in bench/results/):
#   walk.txt            raw go test -bench output of every round, with the
#                       machine description and load averages
#   walk-benchstat.txt  benchstat of BenchmarkWalk: ns/elem of every variant,
#                       CPU ns/elem, speedup (w1/w2) and aa (w1/w1b)
#   walk-ratios.txt     per case: speedup and the A/A control, median and
#                       [min-max] over the rounds; the targets met or missed
#
# Protocol: ROUNDS (default 5) runs of BenchmarkWalk (bench/walk_test.go),
# each WALKS (default 3x) groups of walks per case, a group being one walk
# of each variant (w1, w1b, w2) in an order rotated from group to group and
# from round to round (BENCH_ROUND). Then, once, the library's
# BenchmarkWalkSplitMin (where splitting starts to pay) and
# BenchmarkWalkSparse (sparse maps must not walk slower split).
#
# SUMMARY_ONLY=1 skips the runs and summarises results/walk.txt again.
set -euo pipefail

cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-5}
WALKS=${WALKS:-3x}
out=results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building the benchmark binaries and benchstat..."
go build -o "$tmp/benchstat" golang.org/x/perf/cmd/benchstat
if [ "${SUMMARY_ONLY:-0}" != 1 ]; then
go test -c -o "$tmp/bench.test" .
(cd .. && go test -c -o "$tmp/lib.test" .)

nice=()
if nice -n -20 true 2>/dev/null; then
	nice=(nice -n -20)
fi

{
	echo "kernel: $(uname -sr) $(uname -m)"
	echo "cores: $(nproc)"
	echo "go: $(go env GOVERSION)"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "command: bash bench/walk.sh (ROUNDS=$ROUNDS WALKS=$WALKS)"
	echo "loadavg-at-start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
} >"$out/walk.txt"

for r in $(seq 0 $((ROUNDS - 1))); do
	echo "round $r (load $(cut -d' ' -f1 /proc/loadavg))"
	# Not a "key: value" line: benchstat would take it for a configuration.
	echo "# round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/walk.txt"
	BENCH_ROUND=$r "${nice[@]}" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkWalk$' \
		-test.benchtime "$WALKS" >>"$out/walk.txt"
done
echo "split threshold and sparse maps"
"${nice[@]}" "$tmp/lib.test" -test.run '^$' -test.bench '^BenchmarkWalk(SplitMin|Sparse)$' \
	-test.benchtime 100x -test.count 2 >>"$out/walk.txt"
echo "# at the end, load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/walk.txt"
fi
if grep -q '^--- FAIL\|^FAIL' "$out/walk.txt"; then
	echo "a benchmark failed; see $out/walk.txt" >&2
	exit 1
fi

"$tmp/benchstat" -filter '.name:Walk' -row '/map' "$out/walk.txt" >"$out/walk-benchstat.txt" 2>&1

# Per case: speedup and aa of every round, median and range; the targets.
awk '
/^BenchmarkWalk\/map=/ {
	split($1, p, "/"); c = substr(p[2], 5)
	for (i = 3; i < NF; i++) {
		if ($(i + 1) == "speedup") sp[c] = sp[c] " " $i
		if ($(i + 1) == "aa") aa[c] = aa[c] " " $i
		if ($(i + 1) == "w1-ns/elem") w1[c] = w1[c] " " $i
		if ($(i + 1) == "w2-ns/elem") w2[c] = w2[c] " " $i
		if ($(i + 1) == "w1-cpu-ns/elem") c1 = $i
		if ($(i + 1) == "w2-cpu-ns/elem") c2 = $i
	}
	cpu[c] = cpu[c] " " c2 / c1
	if (!(c in seen)) { seen[c] = 1; order[++n] = c }
}
function stats(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	med = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	lo = a[1]; hi = a[k]; cnt = k
}
END {
	target["hash-u64"] = 1.8; target["percpu-hash-u64"] = 1.8; target["array-u64"] = 1.7
	printf "%-16s %9s %9s %22s %22s %22s  %s\n", "case (1M)", "w1 ns/el", "w2 ns/el", "speedup w1/w2", "A/A w1/w1b", "CPU w2/w1", "target"
	for (i = 1; i <= n; i++) {
		c = order[i]
		stats(w1[c]); m1 = med; stats(w2[c]); m2 = med
		stats(aa[c]); am = med; al = lo; ah = hi
		stats(cpu[c]); cm = med; cl = lo; ch = hi
		stats(sp[c]); verdict = "-"
		if (c in target) verdict = (med >= target[c] ? "met" : "MISSED") " (>= " target[c] "x)"
		printf "%-16s %9.1f %9.1f %8.3f [%.3f-%.3f] %8.3f [%.3f-%.3f] %8.3f [%.3f-%.3f]  %s\n", c, m1, m2, med, lo, hi, am, al, ah, cm, cl, ch, verdict
	}
	printf "\nmedian and [min-max] over %d rounds, each the sum of its walks; CPU: the CPU time of the whole process\n", cnt
}' "$out/walk.txt" | tee "$out/walk-ratios.txt"
