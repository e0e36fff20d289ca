#!/usr/bin/env bash
# A/B runs of `albert-bench model`, the two sides alternating, 3 rounds per scenario (tiny and
# albert-base, inference and training step); prints the median ms per step and peak RSS of each
# side and the speed ratio.
#
#   benches/ab.sh env [VAR]   # one release binary, VAR=0 (A) against VAR=1 (B);
#                             #   VAR: ALBERT_FLEX_KERNELS (default: albert-kernels' fused
#                             #   kernels) or ALBERT_MALLOC_TUNING (the allocator tuning)
#   benches/ab.sh rev [REV]   # albert-bench built at git revision REV (A, default HEAD)
#                             #   against the working tree (B): before/after a change
#   benches/ab.sh precision   # the working tree's binary, --precision fp32 (A) against
#                             #   bf16 (B) (with the bf16 path ALBERT_BF16_GEMM picks, if set)
#   benches/ab.sh bf16-path [PATH]  # --precision bf16 both sides: the f32 gemm on rounded
#                             #   operands (A, ALBERT_BF16_GEMM=off) against PATH (B: native,
#                             #   amx or emulated; default native)
#
# Records go to $OUT (default: a temporary file). ROUNDS overrides the 3 rounds. In the env
# and rev modes, MODEL_ARGS adds arguments to both sides' `model` runs (e.g.
# MODEL_ARGS="--precision bf16" benches/ab.sh rev HEAD: a change's effect on bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-env}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
out=${OUT:-$tmp/ab.jsonl}
: > "$out"
cargo build --release --quiet -p albert-benches --bin albert-bench
cp target/release/albert-bench "$tmp/albert-bench-b"
# Arguments after `model` for each side (the precision mode's).
read -r -a args_a <<< "${MODEL_ARGS:-}"; args_b=("${args_a[@]}")
case "$mode" in
  precision)
    side_a=("$tmp/albert-bench-b"); side_b=("$tmp/albert-bench-b")
    args_a=(--precision fp32); args_b=(--precision bf16)
    label="fp32 (A) vs bf16 (B)"
    ;;
  bf16-path)
    path=${2:-native}
    side_a=(env ALBERT_BF16_GEMM=off "$tmp/albert-bench-b")
    side_b=(env "ALBERT_BF16_GEMM=$path" "$tmp/albert-bench-b")
    args_a=(--precision bf16); args_b=(--precision bf16)
    label="bf16 on the f32 gemm (A) vs ALBERT_BF16_GEMM=$path (B)"
    ;;
  env)
    var=${2:-ALBERT_FLEX_KERNELS}
    side_a=(env "$var=0" "$tmp/albert-bench-b"); side_b=(env "$var=1" "$tmp/albert-bench-b")
    label="$var=0 (A) vs $var=1 (B)"
    ;;
  rev)
    rev=${2:-HEAD}
    git worktree add --detach --quiet "$tmp/base" "$rev"
    # The same target directory: the dependencies are not rebuilt, only the workspace crates.
    (cd "$tmp/base" && CARGO_TARGET_DIR="$OLDPWD/target" \
      cargo build --release --quiet -p albert-benches --bin albert-bench)
    cp target/release/albert-bench "$tmp/albert-bench-a"
    git worktree remove --force "$tmp/base"
    # The working tree's binary again (the revision's build replaced it in target/).
    cargo build --release --quiet -p albert-benches --bin albert-bench
    side_a=("$tmp/albert-bench-a"); side_b=("$tmp/albert-bench-b")
    label="$rev (A) vs working tree (B)"
    ;;
  *) echo "usage: benches/ab.sh env [VAR] | rev [REV] | precision | bf16-path [PATH]" >&2; exit 2 ;;
esac
for sc in "tiny infer 32 128 20" "tiny train 32 128 10" "base infer 8 128 3" "base train 8 128 3"; do
  set -- $sc
  for round in $(seq "$rounds"); do
    for side in a b; do
      if [ $side = a ]; then cmd=("${side_a[@]}"); extra=("${args_a[@]}"); else cmd=("${side_b[@]}"); extra=("${args_b[@]}"); fi
      rec=$("${cmd[@]}" model "${extra[@]}" --size $1 --mode $2 --batch-size $3 --max-seq-length $4 --iters $5 2>/dev/null | tail -1)
      echo "{\"side\": \"$side\", \"round\": $round, \"record\": $rec}" >> "$out"
    done
  done
done
python3 - "$out" "$label" "$rounds" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r['record']['scenario'], {}).setdefault(r['side'], []).append(r['record'])
print(f"{sys.argv[2]}, medians of {sys.argv[3]} rounds:")
for sc, d in by.items():
    a = st.median([x['median_s'] for x in d['a']]); b = st.median([x['median_s'] for x in d['b']])
    ra = st.median([x['peak_rss_mib'] for x in d['a']]); rb = st.median([x['peak_rss_mib'] for x in d['b']])
    print(f"{sc}: A {a*1000:.1f} ms, B {b*1000:.1f} ms, B speed {a/b:.2f}x A; peak RSS {ra:.0f} -> {rb:.0f} MiB")
PY
