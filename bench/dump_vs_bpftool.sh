#!/usr/bin/env bash
# Times `bpfbatch dump` against `bpftool map dump` on a 1M-entry hash map
# (u32 -> u64) and a 1M-prefix LPM trie, output to /dev/null; then
# `bpfbatch sync` of a 1M-entry map with 1% changed and 1% stale entries
# against clearing and reloading it with the command (dump --keys-only |
# delete, then load). Every variant runs in the same session on the same
# maps, several times, with hyperfine (Debian: apt-get install hyperfine
# bpftool). Run as root from the repository's root:
#
#	bash bench/dump_vs_bpftool.sh            # RUNS=10 by default
#	RUNS=5 OUT=/tmp/dump-bench bash bench/dump_vs_bpftool.sh
#
# It mounts a bpf filesystem of its own on a temporary directory, prints
# markdown tables, and leaves them with the JSON exports in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
N=1000000
OUT=${OUT:-$(mktemp -d /tmp/dump-vs-bpftool.XXXXXX)}
mkdir -p "$OUT"
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

echo "## Setup"
echo
echo "- kernel $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "- $("$bb" version)"
echo "- $(bpftool version | head -1), $(hyperfine --version)"
echo "- $RUNS runs each after 1 warm-up, output to /dev/null"
echo

awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "%d %d\n", i, i * 7 }' > "$work/hash.txt"
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) { a = 16777216 + i*256;
	printf "%d.%d.%d.0/24 %d\n", int(a/16777216), int(a/65536)%256, int(a/256)%256, i } }' > "$work/cidrs.txt"

"$bb" create "$fs/hash" --type hash --key-size 4 --value-size 8 --max-entries $N >/dev/null
"$bb" load "$fs/hash" "$work/hash.txt" --key-format u32 --value-format u64 >/dev/null
"$bb" create "$fs/trie" --type lpm_trie --key-size 8 --value-size 4 --max-entries $N >/dev/null
"$bb" load "$fs/trie" "$work/cidrs.txt" --key-format cidr --value-format u32 >/dev/null

bench() { # name, commands...
	local name=$1
	shift
	echo "## $name"
	echo
	hyperfine --style basic --warmup 1 --runs "$RUNS" --shell bash \
		--export-markdown "$OUT/$name.md" --export-json "$OUT/$name.json" "$@" >/dev/null
	cat "$OUT/$name.md"
	echo
}

bench dump-hash \
	-n "bpfbatch dump (u32/u64 text)" "$bb dump $fs/hash --key-format u32 --value-format u64 > /dev/null" \
	-n "bpfbatch dump (hex text)" "$bb dump $fs/hash > /dev/null" \
	-n "bpfbatch dump --format json" "$bb dump $fs/hash --key-format u32 --value-format u64 --format json > /dev/null" \
	-n "bpftool map dump" "bpftool map dump pinned $fs/hash > /dev/null" \
	-n "bpftool map dump -j" "bpftool map dump pinned $fs/hash -j > /dev/null"

bench dump-trie \
	-n "bpfbatch dump (cidr/u32 text)" "$bb dump $fs/trie --key-format cidr --value-format u32 > /dev/null" \
	-n "bpfbatch dump (hex text)" "$bb dump $fs/trie --key-format hex > /dev/null" \
	-n "bpftool map dump" "bpftool map dump pinned $fs/trie > /dev/null" \
	-n "bpftool map dump -j" "bpftool map dump pinned $fs/trie -j > /dev/null"

# The sync input: the 1M entries less 1% (every 100th key, 10000 stale
# entries), with 1% of the values changed (keys 50, 150, ...).
awk '$1 % 100 != 0 { if ($1 % 100 == 50) $2 = $2 + 1; print }' "$work/hash.txt" > "$work/next.txt"
restore="$bb sync $fs/hash $work/hash.txt --key-format u32 --value-format u64 > /dev/null"
"$bb" sync "$fs/hash" "$work/next.txt" --key-format u32 --value-format u64 --dry-run
eval "$restore"
echo
bench sync-vs-reload --prepare "$restore" \
	-n "bpfbatch sync (1% changed, 1% stale)" "$bb sync $fs/hash $work/next.txt --key-format u32 --value-format u64 > /dev/null" \
	-n "clear and reload: dump --keys-only | delete, then load" \
	"$bb dump $fs/hash --keys-only | $bb delete $fs/hash - > /dev/null && $bb load $fs/hash $work/next.txt --key-format u32 --value-format u64 > /dev/null"

echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; tables and JSON in $OUT"
