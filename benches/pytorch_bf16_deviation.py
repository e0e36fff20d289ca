#!/usr/bin/env python3
"""How far PyTorch's own bf16 (or fp16) autocast lands from float32 on the HF fixtures.

The yardstick of the bf16 accuracy tests (issue 14): our bf16 forward may deviate from the
float32 reference by at most twice what `torch.autocast(dtype=torch.bfloat16)` deviates on the
same weights and inputs. For each fixture directory and batch of its `inputs.json`, this runs
`AlbertForPreTraining` (eager attention, no dropout) in float32 and under autocast, and records
the largest absolute difference per output between the two:

    python3 benches/pytorch_bf16_deviation.py ../shared/fixtures/hf-albert/tiny \
        ../shared/fixtures/hf-albert/tiny-groups --device cpu > deviation.json

`--dtype float16` measures fp16 autocast instead (the yardstick of the fp16 tests, kept in
crates/albert-testdata/data/pytorch_fp16_deviation.json). `--dtype qint8` measures PyTorch's
dynamic int8 quantisation, `torch.ao.quantization.quantize_dynamic(model, {nn.Linear},
dtype=torch.qint8)` on a copy of the model (CPU only; the yardstick of `--precision int8`, kept in
crates/albert-testdata/data/pytorch_int8_deviation.json).

Output: one JSON object {"torch": version, "transformers": version, "device": ..., "dtype": ...,
"fixtures": {fixture: {batch: {output: max_abs_diff}}}}. Outputs: `last_hidden_state`,
`pooler_output`, `prediction_logits`, `sop_logits`. The `long` batch is skipped (its
expected file holds only the masked positions' logits; the others cover the same code).
"""

import argparse
import contextlib
import json
import os
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("fixtures", nargs="+", help="fixture directories (config.json, model.safetensors, inputs.json)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "qint8"])
    a = p.parse_args()

    import torch
    import transformers
    from transformers import AlbertForPreTraining

    torch.manual_seed(0)
    device = torch.device(a.device)
    dtype = getattr(torch, a.dtype)
    if a.dtype == "qint8" and device.type != "cpu":
        sys.exit("--dtype qint8: PyTorch's dynamic quantisation runs on the CPU only")
    out = dict(torch=torch.__version__, transformers=transformers.__version__, device=a.device,
               dtype=a.dtype, fixtures={})
    if device.type == "cuda":
        out["device"] = f"cuda ({torch.cuda.get_device_name(device)})"
    for fixture in a.fixtures:
        model = AlbertForPreTraining.from_pretrained(fixture, attn_implementation="eager").to(device)
        model.eval()
        if a.dtype == "qint8":
            import copy
            low_model = torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
            low_context = contextlib.nullcontext
        else:
            low_model = model
            low_context = lambda: torch.autocast(device_type=device.type, dtype=dtype)
        with open(os.path.join(fixture, "inputs.json")) as f:
            batches = json.load(f)["batches"]
        per_batch = {}
        for name, batch in batches.items():
            if name == "long":
                continue
            kw = {k: torch.tensor(batch[k], device=device)
                  for k in ("input_ids", "attention_mask", "token_type_ids")}
            with torch.no_grad():
                ref = model(**kw, output_hidden_states=True)
                ref_pooled = model.albert.pooler_activation(
                    model.albert.pooler(ref.hidden_states[-1][:, 0]))
                with low_context():
                    low = low_model(**kw, output_hidden_states=True)
                    low_pooled = low_model.albert.pooler_activation(
                        low_model.albert.pooler(low.hidden_states[-1][:, 0]))
            diffs = {
                "last_hidden_state": (ref.hidden_states[-1], low.hidden_states[-1]),
                "pooler_output": (ref_pooled, low_pooled),
                "prediction_logits": (ref.prediction_logits, low.prediction_logits),
                "sop_logits": (ref.sop_logits, low.sop_logits),
            }
            per_batch[name] = {k: float((r.float() - l.float()).abs().max()) for k, (r, l) in diffs.items()}
        out["fixtures"][os.path.basename(os.path.normpath(fixture))] = per_batch
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
