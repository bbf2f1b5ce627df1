#!/usr/bin/env bash
# typed.sh: the typed read loop (Iterate, LookupBatchOf) against
# LookupBatch into bytes and against cilium/ebpf's BatchLookup and Iterate
# (BenchmarkTypedRead in typedread_test.go), on 1M-element hash, per-CPU
# hash and array maps. Run it from anywhere: bash bench/typed.sh
#
# Output (in bench/results/):
#   typed-read.txt         raw go test -bench output of every round, after
#                          the machine, the date and the load average
#   typed-read-ratios.txt  ratios to LookupBatch into bytes with the A/A
#                          control, ns and allocations per element
#                          (go run ./cmd/typedread results/typed-read.txt)
#
# ROUNDS (default 8) runs of the benchmark, each one sample per map of
# PASSES (default 3x) groups of walks; in a group every variant walks the
# map once, in an order that rotates from group to group and round to
# round. cilium's Iterate (one syscall pair per element, 2.5-3 s a walk,
# 7-11x the others) walks in the first ITER_ROUNDS (default 2) rounds only,
# so that the other rounds, about 20 s each, give the close comparisons
# more samples in the same time.
set -euo pipefail

cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-8}
PASSES=${PASSES:-3x}
ITER_ROUNDS=${ITER_ROUNDS:-2}
out=results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/bench.test" .
go build -o "$tmp/typedread" ./cmd/typedread

# The machine may be shared: a higher priority keeps other processes'
# bursts out of most samples. Not fatal where it is not allowed.
nice=()
if nice -n -20 true 2>/dev/null; then
	nice=(nice -n -20)
fi

file=$out/typed-read.txt
{
	echo "kernel: $(uname -sr) $(uname -m)"
	echo "cores: $(nproc)"
	echo "go: $(go env GOVERSION)"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "command: ROUNDS=$ROUNDS PASSES=$PASSES ITER_ROUNDS=$ITER_ROUNDS bash bench/typed.sh"
	echo "loadavg-at-start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
} >"$file"
start=$(date +%s)
for r in $(seq 0 $((ROUNDS - 1))); do
	echo "round $r ($(($(date +%s) - start)) s elapsed, load $(cut -d' ' -f1 /proc/loadavg))"
	variants=bytes,bytes2,lookup-of,iterate,cilium-batch
	if [ "$r" -lt "$ITER_ROUNDS" ]; then
		variants=$variants,cilium-iterate
	fi
	TYPED_READS=$variants BENCH_ROUND=$r "${nice[@]}" "$tmp/bench.test" -test.run '^$' \
		-test.bench '^BenchmarkTypedRead$' -test.benchtime "$PASSES" >>"$file"
	echo "loadavg-after-round: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$file"
done
if grep -q '^--- FAIL\|^FAIL' "$file"; then
	echo "a benchmark failed; see $file" >&2
	exit 1
fi
"$tmp/typedread" "$file" | tee "$out/typed-read-ratios.txt"
echo
echo "wrote $file and $out/typed-read-ratios.txt in $(($(date +%s) - start)) s"
