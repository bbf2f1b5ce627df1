#!/usr/bin/env bash
# Times `bpfbatch dump` against `bpftool map dump` and `bpftool -j map
# dump` on a 1M-entry hash map (u32 -> u64) and a 1M-prefix LPM trie
# (/24s, u32 values), output to /dev/null, with --workers 1 and 2 (the
# default), in the integer/cidr formats and in hex (bpftool's own output,
# without BTF, is hex bytes), and beside them the floor of any dump: a walk
# of the same map that formats and prints nothing (cmd/walkpin: the
# library's Map.Walk with Workers 1 and 2, and raw BPF_MAP_LOOKUP_BATCH
# calls from one cursor). At the end, repeated walks in one process show
# what a dump of the trie would take if it split it (see the note there).
#
# The commands run in ROUNDS rounds (default 5) of RUNS runs each (default
# 2), in a new random order every round (seeded by the round), so that all
# see the same machine state; the first command of each map appears twice
# (…-b), the A/A control. Run as root from anywhere (Debian: apt-get
# install hyperfine bpftool):
#
#	bash bench/dump_vs_bpftool.sh
#	ROUNDS=3 RUNS=1 bash bench/dump_vs_bpftool.sh
#
# It mounts a bpf filesystem of its own on a temporary directory and writes
# bench/results/dump-vs-bpftool.txt (setup and the summary of go run
# ./cmd/hfrounds) and the per-round hyperfine JSON exports in
# bench/results/dump-vs-bpftool/. The sync timing that this script had
# until 2026-12 is bench/sync_vs_load.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-2}
N=1000000
res=bench/results
json=$res/dump-vs-bpftool
mkdir -p "$json"
rm -f "$json"/round*.json
export PATH=/usr/local/go/bin:/usr/sbin:$PATH

for tool in bpftool hyperfine go; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: apt-get install bpftool hyperfine)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/dump-vs-bpftool-work.XXXXXX)
fs=$work/bpffs
mkdir "$fs"
mount -t bpf bpf "$fs"
cleanup() { umount "$fs" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bb=$work/bpfbatch
(cd cmd/bpfbatch && go build -o "$bb" .)
(cd bench && go build -o "$work/hfrounds" ./cmd/hfrounds && go build -o "$work/walkpin" ./cmd/walkpin)
wp=$work/walkpin

awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "%d %d\n", i, i * 7 }' >"$work/hash.txt"
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) { a = 16777216 + i*256;
	printf "%d.%d.%d.0/24 %d\n", int(a/16777216), int(a/65536)%256, int(a/256)%256, i } }' >"$work/cidrs.txt"

"$bb" create "$fs/hash" --type hash --key-size 4 --value-size 8 --max-entries $N >/dev/null
"$bb" load "$fs/hash" "$work/hash.txt" --key-format u32 --value-format u64 >/dev/null
"$bb" create "$fs/trie" --type lpm_trie --key-size 8 --value-size 4 --max-entries $N >/dev/null
"$bb" load "$fs/trie" "$work/cidrs.txt" --key-format cidr --value-format u32 >/dev/null

h="$fs/hash"
t="$fs/trie"
# name|command
cmds=(
	"hash-u64-w2|$bb dump $h --key-format u32 --value-format u64 >/dev/null"
	"hash-u64-w2-b|$bb dump $h --key-format u32 --value-format u64 >/dev/null"
	"hash-u64-w1|$bb dump $h --key-format u32 --value-format u64 --workers 1 >/dev/null"
	"hash-hex-w2|$bb dump $h >/dev/null"
	"hash-json-w2|$bb dump $h --key-format u32 --value-format u64 --format json >/dev/null"
	"hash-bpftool|bpftool map dump pinned $h >/dev/null"
	"hash-bpftool-j|bpftool -j map dump pinned $h >/dev/null"
	"hash-walk-w2|$wp -workers 2 $h >/dev/null"
	"hash-walk-w1|$wp -workers 1 $h >/dev/null"
	"hash-walk-raw|$wp -raw $h >/dev/null"
	"trie-cidr-w2|$bb dump $t --key-format cidr --value-format u32 >/dev/null"
	"trie-cidr-w2-b|$bb dump $t --key-format cidr --value-format u32 >/dev/null"
	"trie-cidr-w1|$bb dump $t --key-format cidr --value-format u32 --workers 1 >/dev/null"
	"trie-hex-w2|$bb dump $t --key-format hex --value-format hex >/dev/null"
	"trie-hex-w1|$bb dump $t --key-format hex --value-format hex --workers 1 >/dev/null"
	"trie-json-w2|$bb dump $t --key-format cidr --value-format u32 --format json >/dev/null"
	"trie-bpftool|bpftool map dump pinned $t >/dev/null"
	"trie-bpftool-j|bpftool -j map dump pinned $t >/dev/null"
	"trie-walk-w2|$wp -workers 2 $t >/dev/null"
	"trie-walk-w1|$wp -workers 1 $t >/dev/null"
	"trie-walk-raw|$wp -raw $t >/dev/null"
)

{
	echo "# bpfbatch dump against bpftool map dump (bench/dump_vs_bpftool.sh)"
	echo
	echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
	echo "- $("$bb" version); $(bpftool version | head -1); $(hyperfine --version)"
	echo "- ROUNDS=$ROUNDS rounds of RUNS=$RUNS runs per command, a new order every round, output to /dev/null"
	echo "- maps: hash u32 -> u64, $N entries ($(cut -d' ' -f1 <<<"$("$wp" "$h")") walked); LPM trie, $N /24 prefixes -> u32 ($(cut -d' ' -f1 <<<"$("$wp" "$t")") walked)"
	echo "- output sizes: $(for c in "dump $h --key-format u32 --value-format u64" "dump $h" "dump $t --key-format cidr --value-format u32" "dump $t --key-format hex --value-format hex"; do
		# shellcheck disable=SC2086
		printf '%s: %s bytes; ' "bpfbatch ${c//$fs\//}" "$("$bb" $c | wc -c)"
	done)bpftool hash: $(bpftool map dump pinned "$h" | wc -c), -j: $(bpftool -j map dump pinned "$h" | wc -c); trie: $(bpftool map dump pinned "$t" | wc -c), -j: $(bpftool -j map dump pinned "$t" | wc -c) bytes"
	echo "- first lines: $("$bb" dump "$t" --key-format cidr --value-format u32 --workers 1 | head -1) | $("$bb" dump "$t" --key-format hex --value-format hex --workers 1 | head -1) | $(bpftool map dump pinned "$t" | head -1)"
	echo
} >"$res/dump-vs-bpftool.txt"
cat "$res/dump-vs-bpftool.txt"

for r in $(seq 1 "$ROUNDS"); do
	echo "round $r of $ROUNDS, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$res/dump-vs-bpftool.txt"
	args=()
	while IFS='|' read -r name cmd; do
		args+=(-n "$name" "$cmd")
	done < <(printf '%s\n' "${cmds[@]}" | awk -v seed="$r" 'BEGIN { srand(seed) } { print rand() "\t" $0 }' | sort -n | cut -f2-)
	hyperfine --style none --runs "$RUNS" --shell bash --export-json "$json/round$r.json" "${args[@]}" >/dev/null
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" | tee -a "$res/dump-vs-bpftool.txt"

{
	echo
	echo '```'
	"$work/hfrounds" \
		-ratio hash-u64-w2-b/hash-u64-w2 -ratio hash-u64-w1/hash-u64-w2 \
		-ratio hash-bpftool/hash-u64-w2 -ratio hash-bpftool-j/hash-u64-w2 -ratio hash-bpftool-j/hash-u64-w1 \
		-ratio hash-bpftool/hash-hex-w2 -ratio hash-bpftool-j/hash-json-w2 -ratio hash-u64-w2/hash-walk-w2 -ratio hash-walk-w1/hash-walk-w2 \
		-ratio trie-cidr-w2-b/trie-cidr-w2 -ratio trie-cidr-w1/trie-cidr-w2 \
		-ratio trie-bpftool/trie-cidr-w2 -ratio trie-bpftool/trie-hex-w2 -ratio trie-bpftool-j/trie-hex-w2 \
		-ratio trie-bpftool-j/trie-cidr-w1 -ratio trie-bpftool-j/trie-hex-w1 -ratio trie-bpftool-j/trie-json-w2 \
		-ratio trie-cidr-w2/trie-walk-w2 -ratio trie-cidr-w1/trie-walk-w1 -ratio trie-walk-w1/trie-walk-w2 -ratio trie-walk-raw/trie-walk-w1 \
		-ratio trie-bpftool-j/trie-walk-w2 -ratio trie-bpftool-j/trie-walk-raw \
		-target 'trie-bpftool-j/trie-cidr-w2>=5' -target 'trie-bpftool-j/trie-cidr-w1>=5' \
		"$json"/round*.json
	echo '```'
	echo
	echo "The library learns where to split an LPM trie from a Map's first complete walk, so a process that walks"
	echo "once (bpfbatch dump) walks a trie in one part whatever --workers says. Walks with one Map, one process"
	echo "(walkpin -repeat), each walk's time:"
	echo
	echo '```'
	for w in 1 2; do
		echo "\$ walkpin -workers $w -repeat 6 trie"
		"$wp" -workers "$w" -repeat 6 "$t" 2>&1 >/dev/null
	done
	echo "\$ walkpin -workers 2 -repeat 3 hash"
	"$wp" -workers 2 -repeat 3 "$h" 2>&1 >/dev/null
	echo '```'
	echo
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
} | tee -a "$res/dump-vs-bpftool.txt"
