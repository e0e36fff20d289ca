#!/usr/bin/env bash
# GPU parity and benchmarks on a machine with an NVIDIA card and PyTorch, no Rust toolchain:
# the binaries are built elsewhere and brought along (docs/benchmarks.md, "On a GPU").
#
#   Build (on the development machine):
#     cargo build --release -p albert-benches -p albert-runner \
#         --features albert-benches/wgpu,albert-runner/wgpu
#     cargo test -p albert-wgpu-tests --no-run      # prints the `it` test binary's path
#     cargo test -p albert-kernels --lib --no-run   # prints the kernels' unit-test binary's path
#   Bring: target/release/{albert,albert-bench} and those test binaries as
#   $BIN/{albert,albert-bench,it,kernels-tests}
#   (xz-compressed is fine), the fixtures as $ALBERT_SHARED_DIR (fixtures/hf-albert/{tiny,tiny-groups},
#   fixtures/tokenizer/spiece.model, data/pretrain/sample.txt), then run this from the repository
#   root with OUT set to a folder for the logs and records.
#
# Steps, most needed first: (3) PyTorch's own bf16- and fp16-autocast deviation on the fixtures,
# on CPU and CUDA (the yardstick of our bf16/fp16 accuracy tests); (1) the HF parity and
# pretraining tests on wgpu (Vulkan on the card); (2) albert-base 8 × 128 inference and training
# step on wgpu (float32, fp16) against PyTorch on CUDA (float32, bf16, fp16); (4) the same model scenarios on the machine's CPU; (5) the
# bf16 product paths of albert-kernels on that CPU (AMX tiles, AVX512-BF16): their unit tests
# on the real instructions, then bf16 albert-base with each path (ALBERT_BF16_GEMM).
set -u
BIN=${BIN:-.gpu/bin}
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
for f in "$BIN"/*.xz; do [ -e "$f" ] && xz -d -f "$f"; done
chmod +x "$BIN"/* 2>/dev/null

{
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Socket'
    grep -o -E 'amx_[a-z0-9]+|avx512_bf16|avx512f ' /proc/cpuinfo | sort -u | tr '\n' ' '
    echo
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
} 2>&1 | tee "$OUT/machine.txt"

echo "== 3. PyTorch bf16 and fp16 autocast deviation on the fixtures" >&2
for device in cpu cuda; do
    for dtype in bfloat16 float16; do
        timeout 120 python3 benches/pytorch_bf16_deviation.py "$ALBERT_SHARED_DIR/fixtures/hf-albert/tiny" \
            "$ALBERT_SHARED_DIR/fixtures/hf-albert/tiny-groups" --device "$device" --dtype "$dtype" \
            >"$OUT/$dtype-deviation-$device.json" 2>>"$OUT/bench.log"
    done
done

echo "== 1. wgpu tests" >&2
timeout 240 "$BIN/it" --test-threads 1 --nocapture 2>&1 | tee "$OUT/wgpu-tests.log" | tail -20

echo "== 2. albert-base 8x128: wgpu vs PyTorch CUDA" >&2
records="$OUT/records.jsonl"
: >"$records"
for mode in infer train; do
    # wgpu has no bf16 (WGSL); fp16 runs its products in f16 where the card has shader-f16.
    for precision in fp32 fp16; do
        timeout 150 "$BIN/albert-bench" model --device wgpu --size base --mode "$mode" --batch-size 8 --max-seq-length 128 \
            --warmup 2 --iters 10 --precision "$precision" >>"$records" 2>>"$OUT/bench.log"
    done
    for precision in fp32 bf16 fp16; do
        timeout 120 python3 benches/pytorch_bench.py model --device cuda --size base --mode "$mode" \
            --batch-size 8 --max-seq-length 128 --warmup 3 --iters 10 --precision "$precision" >>"$records" 2>>"$OUT/bench.log"
    done
done

echo "== 4. the same on the CPU" >&2
for mode in infer train; do
    for precision in fp32 bf16; do
        timeout 100 "$BIN/albert-bench" model --device cpu --size base --mode "$mode" --batch-size 8 --max-seq-length 128 \
            --warmup 1 --iters 3 --precision "$precision" >>"$records" 2>>"$OUT/bench.log"
        timeout 100 python3 benches/pytorch_bench.py model --device cpu --size base --mode "$mode" \
            --batch-size 8 --max-seq-length 128 --warmup 1 --iters 3 --precision "$precision" >>"$records" 2>>"$OUT/bench.log"
    done
done
timeout 100 python3 benches/pytorch_bench.py model --device cpu --size base --mode infer \
    --batch-size 8 --max-seq-length 128 --warmup 1 --iters 3 --precision int8 >>"$records" 2>>"$OUT/bench.log"

echo "== 5. bf16 product paths on the CPU (ALBERT_BF16_GEMM)" >&2
if [ -x "$BIN/kernels-tests" ]; then
    # Every path the CPU has, against f64 sums and against the emulation.
    timeout 120 "$BIN/kernels-tests" gemm_bf16 --nocapture >"$OUT/gemm-bf16-tests.log" 2>&1
    tail -3 "$OUT/gemm-bf16-tests.log" >&2
fi
for mode in infer train; do
    for path in off native amx; do
        ALBERT_BF16_GEMM=$path timeout 100 "$BIN/albert-bench" model --device cpu --size base --mode "$mode" \
            --batch-size 8 --max-seq-length 128 --warmup 1 --iters 3 --precision bf16 >>"$records" 2>>"$OUT/bench.log"
    done
done

python3 - "$records" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    path = r.get("bf16_path") or ""
    print(f'{r["implementation"]:>14} {path:>9} {r["device"]:>24} {r["scenario"]:>18} median {1000 * r["median_s"]:9.1f} ms')
EOF
