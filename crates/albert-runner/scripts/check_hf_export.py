#!/usr/bin/env python3
"""Checks that `transformers` loads what `albert export` writes, for all five model kinds.

For each kind of a fixture (`tiny`, or `tiny-groups` with its head-only files): `albert export` → `from_pretrained(dir)` with no missing,
unexpected or mis-shaped keys → the model's logits on every batch equal the fixture's expected
outputs (HF computing from our files reproduces HF computing from its own).

Needs torch, transformers and safetensors (`pip install torch transformers safetensors`); it is
not part of `cargo test`. Usage:

    python3 crates/albert-runner/scripts/check_hf_export.py ALBERT_BIN ../shared/fixtures/hf-albert/tiny-groups
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file

albert_bin, fixture = sys.argv[1], Path(sys.argv[2])
expected = load_file(fixture / "expected.safetensors")
inputs = json.loads((fixture / "inputs.json").read_text())
manifest = json.loads((fixture / "manifest.json").read_text())

cases = [("pretraining", "config.json", ["model.safetensors"], transformers.AlbertForPreTraining)]
classes = {
    "seqcls": transformers.AlbertForSequenceClassification,
    "tokcls": transformers.AlbertForTokenClassification,
    "qa": transformers.AlbertForQuestionAnswering,
    "mc": transformers.AlbertForMultipleChoice,
}
for head, info in manifest["heads"].items():
    if "config" in info:  # a full checkpoint with its own config
        cases.append((head, info["config"], [info["weights"]], classes[head]))
    else:  # head-only tensors on top of model.safetensors
        cases.append((head, "config.json", ["model.safetensors", info["weights"]], classes[head]))

worst = 0.0
for head, config, weights, cls in cases:
    with tempfile.TemporaryDirectory() as out:
        weight_args = [arg for w in weights for arg in ("--weights", fixture / w)]
        subprocess.run(
            [albert_bin, "export", "--config", fixture / config, *weight_args, "--head", head, "--out", out],
            check=True,
            capture_output=True,
        )
        model, info = cls.from_pretrained(out, output_loading_info=True, attn_implementation="eager")
        problems = {k: v for k, v in info.items() if v}
        assert not problems, f"{head}: {problems}"
        model.eval()
        pairs = []
        with torch.no_grad():
            if head == "mc":
                b = inputs["multiple_choice"]["mc"]
                o = model(**{k: torch.tensor(b[k]) for k in ("input_ids", "attention_mask", "token_type_ids")})
                pairs.append(("mc/logits", o.logits))
            else:
                for name, b in inputs["batches"].items():
                    o = model(**{k: torch.tensor(b[k]) for k in ("input_ids", "attention_mask", "token_type_ids")})
                    if head == "pretraining":
                        pairs.append((f"{name}/sop_logits", o.sop_logits))
                        if f"{name}/prediction_logits" in expected:
                            pairs.append((f"{name}/prediction_logits", o.prediction_logits))
                    elif head == "qa":
                        pairs += [(f"{name}/qa/start_logits", o.start_logits), (f"{name}/qa/end_logits", o.end_logits)]
                    else:
                        pairs.append((f"{name}/{head}/logits", o.logits))
        for key, got in pairs:
            diff = (got - expected[key]).abs().max().item()
            assert diff <= 1e-5, f"{head} {key}: {diff}"
            worst = max(worst, diff)
        print(f"{head}: transformers {transformers.__version__} loaded {cls.__name__} from our export; "
              f"{len(pairs)} outputs equal the fixture")
print(f"largest difference {worst:.3e}")
