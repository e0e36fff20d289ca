#!/usr/bin/env python3
"""PyTorch + transformers side of `cargo xtask bench --compare-pytorch`.

Measures one model scenario in this process, the same way `albert-bench model` does, and prints
one JSON record (the fields of `albert_benches::measure::Record`) on stdout:

    python3 benches/pytorch_bench.py model --size base --mode train --batch-size 8 --max-seq-length 128
    python3 benches/pytorch_bench.py matmul --m 1024 --k 768 --n 3072   # torch.matmul alone

- infer: `AlbertForPreTraining` forward under `torch.inference_mode()` (MLM logits at every
  position and SOP logits).
- train: forward with `labels` (-100 except 20 masked positions per sequence) and
  `sentence_order_label`, `loss.backward()`, `torch.optim.AdamW` step (lr 1e-4, weight decay
  0.01, eps 1e-6), `zero_grad(set_to_none=True)`.

Random weights (seeded), no dropout (v2 configs), default thread settings (torch uses every
physical core). Needs `pip install torch transformers`.

`--precision` picks PyTorch's mode: `fp32` (default), `bf16` (`torch.autocast(device, bfloat16)`
around the forward and loss, as a user who wants speed runs it: oneDNN/AMX on CPU, tensor cores on
CUDA; weights, gradients and AdamW state stay f32), `fp16` (the same with float16) or `int8` (inference only:
`torch.ao.quantization.quantize_dynamic` of every `nn.Linear` to qint8, CPU only). The record's
`implementation` names it (`pytorch`, `pytorch-bf16`, `pytorch-fp16`, `pytorch-int8`).

The model flags are `albert-bench model`'s (`--batch-size`, `--max-seq-length`; `--batch` and
`--seq` also work), so `cargo xtask bench` passes both programs the same arguments; `--parse-only`
prints the parsed arguments as JSON and exits before importing torch (the xtask's test of that).
"""

import contextlib

import argparse
import json
import sys
import time

PREDICTIONS_PER_SEQ = 20

SIZES = {
    # The HF fixture's tiny config (../shared/fixtures/hf-albert/tiny/config.json).
    "tiny": dict(vocab_size=1000, embedding_size=32, hidden_size=64, num_hidden_layers=3,
                 num_attention_heads=4, intermediate_size=128, max_position_embeddings=128),
    "base": dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512),
    "large": dict(vocab_size=30000, embedding_size=128, hidden_size=1024, num_hidden_layers=24,
                  num_attention_heads=16, intermediate_size=4096, max_position_embeddings=512),
}


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def forward_flops(c, n, mlm_rows):
    """Matmul FLOPs of one sequence, as `albert_benches::scenario::forward_flops`."""
    v, e, h, i = c["vocab_size"], c["embedding_size"], c["hidden_size"], c["intermediate_size"]
    layer = 8 * n * h * h + 4 * n * n * h + 4 * n * h * i
    return (2 * n * e * h + c["num_hidden_layers"] * layer + 2 * h * h + 4 * h
            + 2 * mlm_rows * h * e + 2 * mlm_rows * e * v)


def timed(step, warmup, iters):
    """Seconds of `iters` calls of `step` after `warmup` untimed ones, and their median."""
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - t)
    s = sorted(seconds)
    mid = len(s) // 2
    return seconds, (s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2)


def matmul(a):
    """`albert-bench matmul`'s product in PyTorch: same shapes, f32, every core."""
    import torch

    x = ((torch.arange(a.m * a.k) % 17).float() - 8.0).div(8.0).reshape(a.m, a.k)
    w = ((torch.arange(a.k * a.n) % 13).float() - 6.0).div(6.0).reshape(a.k, a.n)
    seconds, median = timed(lambda: torch.matmul(x, w), a.warmup, a.iters)
    print(json.dumps(dict(
        implementation="pytorch", device="cpu", scenario=f"matmul-{a.m}x{a.k}x{a.n}",
        seconds=seconds, median_s=median, units=1.0, unit="products", tokens=0.0,
        flops=float(2 * a.m * a.k * a.n), peak_rss_mib=peak_rss_mib(), loss=None)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model")
    m.add_argument("--size", choices=sorted(SIZES), required=True)
    m.add_argument("--mode", choices=["infer", "train"], required=True)
    m.add_argument("--batch-size", "--batch", dest="batch", type=int, required=True)
    m.add_argument("--max-seq-length", "--seq", dest="seq", type=int, required=True)
    m.add_argument("--device", default="cpu")
    m.add_argument("--warmup", type=int, default=1)
    m.add_argument("--iters", type=int, default=5)
    m.add_argument("--precision", choices=["fp32", "bf16", "fp16", "int8"], default="fp32")
    m.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    mm = sub.add_parser("matmul", help="one row-major f32 product [m, k]·[k, n] (torch.matmul)")
    for dim in ("m", "k", "n"):
        mm.add_argument(f"--{dim}", type=int, required=True)
    mm.add_argument("--warmup", type=int, default=2)
    mm.add_argument("--iters", type=int, default=15)
    a = p.parse_args()
    if a.what == "matmul":
        return matmul(a)
    if a.parse_only:
        print(json.dumps({k: v for k, v in vars(a).items() if k not in ("what", "parse_only")}))
        return

    import torch
    from transformers import AlbertConfig, AlbertForPreTraining

    torch.manual_seed(0)
    cfg = dict(hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
               classifier_dropout_prob=0.0, type_vocab_size=2, **SIZES[a.size])
    device = torch.device(a.device)
    model = AlbertForPreTraining(AlbertConfig(**cfg)).to(device)
    b, n = a.batch, a.seq
    g = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, cfg["vocab_size"], (b, n), generator=g).to(device)
    token_type_ids = (torch.arange(n) >= n // 2).long().expand(b, n).contiguous().to(device)
    attention_mask = torch.ones(b, n, dtype=torch.long, device=device)
    k = min(PREDICTIONS_PER_SEQ, n)
    labels = torch.full((b, n), -100, dtype=torch.long)
    for row in range(b):
        pos = torch.randperm(n, generator=g)[:k]
        labels[row, pos] = torch.randint(5, cfg["vocab_size"], (k,), generator=g)
    labels = labels.to(device)
    sop = torch.randint(0, 2, (b,), generator=g).to(device)

    if a.precision == "int8":
        if a.mode != "infer" or device.type != "cpu":
            sys.exit("pytorch_bench: --precision int8 is dynamic quantisation: infer on cpu only")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def autocast():
        if a.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if a.precision == "bf16" else torch.float16
            return torch.autocast(device_type=device.type, dtype=dtype)
        return contextlib.nullcontext()

    loss_value = [None]
    if a.mode == "infer":
        model.eval()

        def step():
            with torch.inference_mode(), autocast():
                out = model(input_ids=input_ids, token_type_ids=token_type_ids,
                            attention_mask=attention_mask)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return out
    else:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, eps=1e-6)

        def step():
            with autocast():
                out = model(input_ids=input_ids, token_type_ids=token_type_ids,
                            attention_mask=attention_mask, labels=labels,
                            sentence_order_label=sop)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss_value[0] = float(out.loss.detach())
            if device.type == "cuda":
                torch.cuda.synchronize()

    print(f"pytorch_bench: {a.size}-{a.mode}-{b}x{n} on {a.device}, {a.precision} (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads): {a.warmup} warm-up + {a.iters} timed iterations",
          file=sys.stderr)
    seconds, median = timed(step, a.warmup, a.iters)
    fwd = forward_flops(cfg, n, n) * b  # HF projects every position onto the vocabulary
    record = dict(
        implementation="pytorch" if a.precision == "fp32" else f"pytorch-{a.precision}",
        device=a.device if device.type != "cuda" else f"cuda ({torch.cuda.get_device_name(device)})",
        scenario=f"{a.size}-{a.mode}-{b}x{n}",
        seconds=seconds,
        median_s=median,
        units=float(b),
        unit="sequences",
        tokens=float(b * n),
        flops=float(fwd if a.mode == "infer" else 3 * fwd),
        peak_rss_mib=peak_rss_mib(),
        loss=loss_value[0],
    )
    print(json.dumps(record))


if __name__ == "__main__":
    main()
