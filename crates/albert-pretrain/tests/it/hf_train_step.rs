//! One AdamW step on the HF fixture (`tiny`, batch `pair`) against `expected.safetensors`
//! `train/*`: the pretraining loss before and after, the gradient norm of every parameter (the
//! tied word embeddings receive the lookup's and the decoder's gradient), full gradients and
//! post-step values of the tracked parameters, and the tracked word-embedding rows.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use albert_core::checkpoint::{MissingPolicy, ParamInfo, TensorValues, load_hf, read_safetensors};
use albert_core::{AlbertForPreTraining, HfConfig, TokenBatch};
use albert_pretrain::data::SentenceTask;
use albert_pretrain::{PretrainBatch, pretrain_forward};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};

fn fixture() -> Option<PathBuf> {
    common::shared_path("fixtures/hf-albert/tiny")
}

/// Per HF name: shape, values and gradient, in HF layout.
type Collected = BTreeMap<String, (Vec<usize>, Vec<f32>, Option<Vec<f32>>)>;

/// Every float parameter as (HF info, values in HF layout, gradient in HF layout).
struct Collect<'a> {
    grads: Option<&'a GradientsParams>,
    path: Vec<String>,
    containers: Vec<String>,
    out: Collected,
}

fn hf_layout<const D: usize>(t: Tensor<D>, info: &ParamInfo) -> Vec<f32> {
    let t = if info.transposed { t.transpose() } else { t };
    t.try_into_vec_as::<f32>().expect("f32")
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
        self.containers.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let module_type = self
            .containers
            .iter()
            .rev()
            .find(|c| c.starts_with("Struct:"))
            .cloned()
            .unwrap_or_default();
        let info = ParamInfo::new(
            self.path.join("."),
            module_type,
            param.lazy_shape().to_vec(),
        );
        let values = hf_layout(param.val().inner(), &info);
        let grad = self
            .grads
            .and_then(|g| g.get::<D>(param.id))
            .map(|g| hf_layout(g, &info));
        self.out
            .insert(info.hf_name.clone(), (info.hf_shape.clone(), values, grad));
    }
}

fn collect(model: &AlbertForPreTraining, grads: Option<&GradientsParams>) -> Collected {
    let mut c = Collect {
        grads,
        path: Vec::new(),
        containers: Vec::new(),
        out: BTreeMap::new(),
    };
    model.visit(&mut c);
    c.out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn pair_batch(dir: &Path, hf: &HfConfig, device: &Device) -> PretrainBatch {
    let inputs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("inputs.json")).expect("inputs"))
            .expect("json");
    let b = &inputs["batches"]["pair"];
    let rows = |k: &str| -> Vec<Vec<i64>> { serde_json::from_value(b[k].clone()).expect(k) };
    let tokens = TokenBatch {
        input_ids: rows("input_ids"),
        token_type_ids: Some(rows("token_type_ids")),
        attention_mask: Some(rows("attention_mask")),
    };
    let [_, n] = tokens.dims();
    let (positions, labels): (Vec<i64>, Vec<i64>) = rows("mlm_labels")
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, l)| **l != -100)
        .map(|(p, l)| (p as i64, *l))
        .unzip();
    let sop: Vec<i64> = serde_json::from_value(b["sop_labels"].clone()).expect("sop");
    let int1 = |v: Vec<i64>| {
        let k = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [k]), device)
    };
    let k = positions.len();
    let rows_n = tokens.input_ids.len();
    PretrainBatch {
        input: tokens.to_input(&hf.config, device).expect("input"),
        masked_positions: int1(positions),
        masked_labels: int1(labels),
        sentence_labels: int1(sop),
        sequences: rows_n,
        tokens: rows_n * n,
        predictions: k,
    }
}

#[test]
fn one_adamw_step_matches_pytorch() {
    let Some(dir) = fixture() else { return };
    let expected: BTreeMap<String, (Vec<usize>, Vec<f32>)> =
        read_safetensors(dir.join("expected.safetensors"))
            .expect("expected")
            .into_iter()
            .filter_map(|t| match t.values {
                TensorValues::F32(v) => Some((t.name, (t.shape, v))),
                _ => None,
            })
            .collect();
    let scalar = |k: &str| expected[k].1[0];
    let device = crate::common::cpu().autodiff();
    let hf = HfConfig::from_file(dir.join("config.json")).expect("config");
    let (model, _) = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[dir.join("model.safetensors")],
        MissingPolicy::Error,
    )
    .expect("load");
    let batch = pair_batch(&dir, &hf, &device);

    let out = pretrain_forward(&model, &batch, SentenceTask::Sop);
    let loss_before: f32 = out.loss.clone().into_scalar();
    assert!(
        (loss_before - scalar("train/loss_before")).abs() < 1e-5,
        "{loss_before}"
    );

    let grads = GradientsParams::from_grads(out.loss.backward(), &model);
    let before = collect(&model, Some(&grads));
    // Every parameter's gradient norm, and the global norm.
    let mut total = 0.0f64;
    let mut worst_norm = 0.0f32;
    for (name, (_, _, grad)) in &before {
        let g = grad
            .as_ref()
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm = g.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
        total += norm;
        let want = scalar(&format!("train/grad_norm/{name}"));
        let rel = (norm.sqrt() as f32 - want).abs() / want.max(1e-6);
        worst_norm = worst_norm.max(rel);
        assert!(rel < 1e-4, "{name}: grad norm {} vs {want}", norm.sqrt());
    }
    assert!(
        (total.sqrt() as f32 - scalar("train/grad_norm_total")).abs()
            / scalar("train/grad_norm_total")
            < 1e-4
    );
    let tracked: Vec<String> = expected
        .keys()
        .filter_map(|k| k.strip_prefix("train/grad/"))
        .filter(|k| !k.contains('['))
        .map(String::from)
        .collect();
    assert_eq!(tracked.len(), 5, "{tracked:?}");
    for name in &tracked {
        let (_, _, grad) = &before[name];
        let d = max_diff(
            grad.as_ref().expect("grad"),
            &expected[&format!("train/grad/{name}")].1,
        );
        assert!(d < 1e-5, "{name}: gradient differs by {d}");
    }
    // Word-embedding rows (pad, [MASK], 5, a batch token, a token not in the batch).
    let rows: Vec<usize> = read_safetensors(dir.join("expected.safetensors"))
        .expect("expected")
        .into_iter()
        .find(|t| t.name == "train/word_embedding_rows")
        .and_then(|t| match t.values {
            TensorValues::I64(v) => Some(v.into_iter().map(|x| x as usize).collect()),
            _ => None,
        })
        .expect("rows");
    let word = "albert.embeddings.word_embeddings.weight";
    let e = hf.config.embedding_size;
    let pick = |v: &[f32]| {
        rows.iter()
            .flat_map(|&r| v[r * e..(r + 1) * e].to_vec())
            .collect::<Vec<f32>>()
    };
    let d = max_diff(
        &pick(before[word].2.as_ref().expect("grad")),
        &expected[&format!("train/grad/{word}[rows]")].1,
    );
    assert!(d < 1e-5, "word embedding gradient rows differ by {d}");

    let mut optim = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init();
    let model = optim.step(1e-3, model, grads);
    let after = collect(&model, None);
    for name in &tracked {
        let d = max_diff(
            &after[name].1,
            &expected[&format!("train/param_after/{name}")].1,
        );
        assert!(d < 1e-6, "{name}: after the step, differs by {d}");
    }
    let d = max_diff(
        &pick(&after[word].1),
        &expected[&format!("train/param_after/{word}[rows]")].1,
    );
    assert!(d < 1e-6, "word embedding rows after the step differ by {d}");
    let loss_after: f32 = pretrain_forward(&model, &batch, SentenceTask::Sop)
        .loss
        .into_scalar();
    assert!(
        (loss_after - scalar("train/loss_after")).abs() < 1e-5,
        "{loss_after} vs {}",
        scalar("train/loss_after")
    );
    eprintln!(
        "AdamW step: {} gradient norms within 1e-4 relative (worst {worst_norm:e}); loss {loss_before} -> {loss_after}",
        before.len()
    );
}
