#!/usr/bin/env bash
# Times `bpfbatch dump` of a map with BTF (1M entries, struct conn_key ->
# struct conn_value, see cmd/btfmap) printing each key and value by member,
# as bpftool's "formatted" JSON, against `bpftool -j map dump` of the same
# map, output to /dev/null, with hyperfine (Debian: apt-get install
# hyperfine bpftool). Run as root from the repository's root:
#
#	bash bench/dump_btf_vs_bpftool.sh        # RUNS=10 by default
#	RUNS=5 OUT=/tmp/btf-bench bash bench/dump_btf_vs_bpftool.sh
#
# It mounts a bpf filesystem of its own on a temporary directory, checks
# that both tools print the same fields for every entry, prints a markdown
# table and the ratio, and leaves them with the JSON export in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
N=${N:-1000000}
OUT=${OUT:-$(mktemp -d /tmp/dump-btf-vs-bpftool.XXXXXX)}
mkdir -p "$OUT"
export PATH=/usr/local/go/bin:/usr/sbin:$PATH

for tool in bpftool hyperfine go jq; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: apt-get install bpftool hyperfine jq)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/dump-btf-vs-bpftool-work.XXXXXX)
fs=$work/bpffs
mkdir "$fs"
mount -t bpf bpf "$fs"
cleanup() { umount "$fs" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bb=$work/bpfbatch
(cd cmd/bpfbatch && go build -o "$bb" .)
(cd bench && go run ./cmd/btfmap "$fs/conns" "$N")

echo "## Setup"
echo
echo "- kernel $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "- $("$bb" version)"
echo "- $(bpftool version | head -1), $(hyperfine --version)"
echo "- a hash map of $N entries, struct conn_key (16 bytes) -> struct conn_value (48 bytes), with BTF"
echo "- $RUNS runs each after 1 warm-up, output to /dev/null"
echo

# The same fields: bpftool's "formatted" of every entry, and bpfbatch's
# lines, sorted.
"$bb" dump "$fs/conns" --format json | jq -cS '[.key, .value]' | sort > "$work/bpfbatch.txt"
bpftool -j map dump pinned "$fs/conns" | jq -cS '.[] | [.formatted.key, .formatted.value]' | sort > "$work/bpftool.txt"
if cmp -s "$work/bpfbatch.txt" "$work/bpftool.txt"; then
	echo "Both print the same fields for all $(wc -l < "$work/bpftool.txt") entries."
else
	echo "bpfbatch and bpftool differ:" >&2
	diff "$work/bpfbatch.txt" "$work/bpftool.txt" | head >&2
	exit 1
fi
echo
"$bb" dump "$fs/conns" --format json | head -2
echo

hyperfine --style basic --warmup 1 --runs "$RUNS" --shell bash \
	--export-markdown "$OUT/dump-btf.md" --export-json "$OUT/dump-btf.json" \
	-n "bpfbatch dump --format json (btf)" "$bb dump $fs/conns --format json > /dev/null" \
	-n "bpfbatch dump --format json --workers 1" "$bb dump $fs/conns --format json --workers 1 > /dev/null" \
	-n "bpftool -j map dump" "bpftool -j map dump pinned $fs/conns > /dev/null" >/dev/null
echo "## dump-btf"
echo
cat "$OUT/dump-btf.md"
echo
jq -r '.results as $r | ($r[2].mean / $r[0].mean) as $x | (($r[2].user + $r[2].system) / ($r[0].user + $r[0].system)) as $c |
	"bpftool -j / bpfbatch (btf): \($x * 100 | round / 100)x by mean wall time, \($c * 100 | round / 100)x by CPU time (user + sys)"' "$OUT/dump-btf.json"
echo
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; table and JSON in $OUT"
