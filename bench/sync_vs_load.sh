#!/usr/bin/env bash
# Times `bpfbatch sync` of a 1M-entry hash map (u32 -> u64) to a file that
# differs from it by 1% stale, 1% changed and 1% new entries (the library's
# BenchmarkSync drift; the file has 1M lines) against `bpfbatch load` of
# the same file into the same map, with --workers 1 and 2, and beside them
# what bounds a sync: the parse of the file alone (parse: `load --dry-run
# --stream` into an empty map of the same kind, which parses and checks
# the lines block by block and compares nothing), the whole input read as
# load and sync read it and indexed (loaddry: `load --dry-run` into the
# empty map: parse, repeated-key search, checks, an index of the 1M keys, a
# walk of an empty map), `sync --dry-run` (the input read beside the walk,
# and the compare), load into an empty map, and clearing and reloading the
# map with the command (`dump --keys-only | delete`, then `load`).
#
# Every timed run starts from the map's old state: hyperfine's --prepare
# syncs it back (untimed, ~1 s) before every run of every command. The
# commands run in ROUNDS rounds (default 5) of RUNS runs each (default 3),
# in a new random order every round (seeded by the round), so that all see
# the same machine state; sync-w1b is sync-w1 again, the A/A control. Run
# as root from anywhere (Debian: apt-get install hyperfine):
#
#	bash bench/sync_vs_load.sh
#	ROUNDS=3 RUNS=2 bash bench/sync_vs_load.sh
#
# It mounts a bpf filesystem of its own on a temporary directory and writes
# bench/results/sync-vs-load.txt (setup, the summary of go run
# ./cmd/hfrounds, and the command's own summary lines of a few extra runs,
# which split each run into read and write or sync time) and the per-round
# hyperfine JSON exports in bench/results/sync-vs-load/.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-3}
N=1000000
res=bench/results
json=$res/sync-vs-load
mkdir -p "$json"
rm -f "$json"/round*.json
export PATH=/usr/local/go/bin:/usr/sbin:$PATH

for tool in hyperfine go; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: apt-get install hyperfine)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sync-vs-load.XXXXXX)
fs=$work/bpffs
mkdir "$fs"
mount -t bpf bpf "$fs"
cleanup() { umount "$fs" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bb=$work/bpfbatch
(cd cmd/bpfbatch && go build -o "$bb" .)
(cd bench && go build -o "$work/hfrounds" ./cmd/hfrounds)

# old.txt: the map's old state, keys 0..N-1. next.txt: every 100th key
# gone (10000 stale), the keys 50, 150, ... with another value (10000
# changed), and 10000 new keys: 1M lines again.
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "%d %d\n", i, i * 7 }' >"$work/old.txt"
awk -v n=$N '$1 % 100 != 0 { if ($1 % 100 == 50) $2 = $2 + 1; print }
	END { for (i = n; i < n + n / 100; i++) printf "%d %d\n", i, i * 7 }' "$work/old.txt" >"$work/next.txt"

# max_entries 2^20: room for the load's 10000 new keys beside the stale
# ones (the hash table has 2^20 buckets either way).
kv="--key-format u32 --value-format u64"
for m in hash fresh empty; do
	"$bb" create "$fs/$m" --type hash --key-size 4 --value-size 8 --max-entries 1048576 >/dev/null
done
"$bb" load "$fs/hash" "$work/old.txt" $kv >/dev/null
restore="$bb sync $fs/hash $work/old.txt $kv >/dev/null"
clear_fresh="$bb dump $fs/fresh --keys-only | $bb delete $fs/fresh - --ignore-missing >/dev/null"

# name|prepare|command
cmds=(
	"sync-w1|$restore|$bb sync $fs/hash $work/next.txt $kv --workers 1 >/dev/null"
	"sync-w1b|$restore|$bb sync $fs/hash $work/next.txt $kv --workers 1 >/dev/null"
	"sync-w2|$restore|$bb sync $fs/hash $work/next.txt $kv --workers 2 >/dev/null"
	"load-w1|$restore|$bb load $fs/hash $work/next.txt $kv --workers 1 >/dev/null"
	"load-w2|$restore|$bb load $fs/hash $work/next.txt $kv --workers 2 >/dev/null"
	"load-empty-w1|$clear_fresh|$bb load $fs/fresh $work/next.txt $kv --workers 1 >/dev/null"
	"syncdry-w1|$restore|$bb sync $fs/hash $work/next.txt $kv --workers 1 --dry-run >/dev/null"
	"syncdry-w2|$restore|$bb sync $fs/hash $work/next.txt $kv --workers 2 --dry-run >/dev/null"
	"parse|true|$bb load $fs/empty $work/next.txt $kv --dry-run --stream >/dev/null"
	"loaddry|true|$bb load $fs/empty $work/next.txt $kv --dry-run >/dev/null"
	"reload-w1|$restore|$bb dump $fs/hash --keys-only | $bb delete $fs/hash - >/dev/null && $bb load $fs/hash $work/next.txt $kv >/dev/null"
)

{
	echo "# bpfbatch sync against bpfbatch load of the same file (bench/sync_vs_load.sh)"
	echo
	echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
	echo "- $("$bb" version), $(hyperfine --version)"
	echo "- ROUNDS=$ROUNDS rounds of RUNS=$RUNS runs per command, a new order every round, output to /dev/null; before every run: ${restore//$work/\$work} (sync-w1, ...), ${clear_fresh//$work/\$work} (load-empty-w1)"
	echo "- the map: hash, u32 -> u64, max_entries 1048576, holding old.txt ($N entries); next.txt: $(wc -l <"$work/next.txt") lines"
	echo "- sync --dry-run of next.txt says: $("$bb" sync "$fs/hash" "$work/next.txt" $kv --dry-run)"
	echo
} >"$res/sync-vs-load.txt"
cat "$res/sync-vs-load.txt"

for r in $(seq 1 "$ROUNDS"); do
	echo "round $r of $ROUNDS, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$res/sync-vs-load.txt"
	args=()
	while IFS='|' read -r name prep cmd; do
		args+=(-n "$name" --prepare "$prep" "$cmd")
	done < <(printf '%s\n' "${cmds[@]}" | awk -v seed="$r" 'BEGIN { srand(seed) } { print rand() "\t" $0 }' | sort -n | cut -f2-)
	hyperfine --style none --runs "$RUNS" --shell bash --export-json "$json/round$r.json" "${args[@]}" >/dev/null
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the rounds" | tee -a "$res/sync-vs-load.txt"

{
	echo
	echo '```'
	"$work/hfrounds" -ratio sync-w1b/sync-w1 -ratio syncdry-w1/load-w1 -ratio syncdry-w2/load-w2 \
		-ratio parse/load-w1 -ratio loaddry/load-w1 -ratio parse/sync-w1 -ratio sync-w1/reload-w1 -ratio load-empty-w1/load-w1 -ratio sync-w2/sync-w1 \
		-target 'sync-w1/load-w1<=0.6' -target 'sync-w2/load-w2<=0.6' "$json"/round*.json
	echo '```'
	echo
	echo "The command's own summary lines, 3 more runs each (the map restored before each):"
	echo
	echo '```'
	for i in 1 2 3; do
		for c in "sync $fs/hash $work/next.txt $kv --workers 1" "sync $fs/hash $work/next.txt $kv --workers 2" \
			"load $fs/hash $work/next.txt $kv --workers 1" "load $fs/hash $work/next.txt $kv --workers 2" \
			"sync $fs/hash $work/next.txt $kv --workers 1 --dry-run" "sync $fs/hash $work/next.txt $kv --workers 2 --dry-run" \
			"load $fs/empty $work/next.txt $kv --dry-run --stream" "load $fs/empty $work/next.txt $kv --dry-run"; do
			eval "$restore"
			# shellcheck disable=SC2086
			echo "\$ bpfbatch ${c//$work\//}" | sed "s|$fs/|\$fs/|g"
			# shellcheck disable=SC2086
			"$bb" $c | sed "s|$fs/|\$fs/|g; s|$work/||g"
		done
	done
	echo '```'
	echo
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
} | tee -a "$res/sync-vs-load.txt"
