#!/usr/bin/env bash
# A/B of a run-time switch of albert-core, off (VAR=0) and on, the same release binary,
# alternating, 3 rounds per scenario (tiny and albert-base, inference and training step).
# Prints the median ms per step and peak RSS of each. VAR is the first argument:
#   benches/ab_kernels.sh                       # ALBERT_FLEX_KERNELS (fused flex kernels)
#   benches/ab_kernels.sh ALBERT_MALLOC_TUNING  # glibc malloc thresholds (memory.rs)
# Records go to $OUT (default: a temporary file).
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=${1:-ALBERT_FLEX_KERNELS}
cargo build --release --quiet -p albert-benches --bin albert-bench
BIN=target/release/albert-bench
out=${OUT:-$(mktemp -d)/ab.jsonl}
: > "$out"
for sc in "tiny infer 32 128 20" "tiny train 32 128 10" "base infer 8 128 3" "base train 8 128 3"; do
  set -- $sc
  for round in 1 2 3; do
    for k in 0 1; do
      rec=$(env "$VAR=$k" $BIN model --size $1 --mode $2 --batch $3 --seq $4 --iters $5 2>/dev/null | tail -1)
      echo "{\"on\": $k, \"round\": $round, \"record\": $rec}" >> "$out"
    done
  done
done
python3 - "$out" "$VAR" <<'PY'
import json,sys,statistics as st
rows=[json.loads(l) for l in open(sys.argv[1])]
by={}
for r in rows:
    by.setdefault(r['record']['scenario'],{}).setdefault(r['on'],[]).append(r['record'])
print(f"{sys.argv[2]}=0 vs on, medians of 3 rounds:")
for sc,d in by.items():
    off=st.median([x['median_s'] for x in d[0]]); on=st.median([x['median_s'] for x in d[1]])
    rss_off=st.median([x['peak_rss_mib'] for x in d[0]]); rss_on=st.median([x['peak_rss_mib'] for x in d[1]])
    print(f"{sc}: off {off*1000:.1f} ms, on {on*1000:.1f} ms, speed-up {off/on:.2f}x; peak RSS {rss_off:.0f} -> {rss_on:.0f} MiB")
PY
