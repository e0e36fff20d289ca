//! The benchmarked workloads: an ALBERT size, a batch shape, and what is timed (inference or
//! one training step), with their matmul FLOP counts. `pytorch_bench.py` builds the same
//! configurations in `transformers` so the two sides run the same shapes.

use std::fmt;
use std::str::FromStr;

use albert_core::{AlbertConfig, AlbertForPreTraining, AlbertSize, AlbertVersion, EncoderOutputs};
use albert_pretrain::data::Instance;
use albert_pretrain::{PretrainBatch, collate, pretrain_forward};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use rand::Rng;

use albert_pretrain::data::SentenceTask;

/// Masked positions per sequence (ALBERT's `max_predictions_per_seq`).
pub const PREDICTIONS_PER_SEQ: usize = 20;

/// A model size of the benchmark grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The HF fixture's tiny config (`../shared/fixtures/hf-albert/tiny`): vocabulary 1000,
    /// E 32, H 64, 3 layers, 4 heads, FFN 128, 128 positions. Per-op overhead dominates.
    Tiny,
    /// albert-base: E 128, H 768, 12 layers, 12 heads, FFN 3072.
    Base,
    /// albert-large: E 128, H 1024, 24 layers, 16 heads, FFN 4096.
    Large,
}

impl Size {
    /// The names accepted by `--size`.
    pub const NAMES: [&'static str; 3] = ["tiny", "base", "large"];

    /// The model configuration (v2 release: no dropout).
    pub fn config(self) -> AlbertConfig {
        match self {
            Size::Tiny => AlbertConfig::new()
                .with_vocab_size(1000)
                .with_embedding_size(32)
                .with_hidden_size(64)
                .with_num_hidden_layers(3)
                .with_num_attention_heads(4)
                .with_intermediate_size(128)
                .with_max_position_embeddings(128),
            Size::Base => AlbertConfig::preset(AlbertSize::Base, AlbertVersion::V2),
            Size::Large => AlbertConfig::preset(AlbertSize::Large, AlbertVersion::V2),
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tiny" => Ok(Size::Tiny),
            "base" => Ok(Size::Base),
            "large" => Ok(Size::Large),
            _ => Err(format!(
                "unknown size {s:?} (expected {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// What one timed iteration does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `AlbertForPreTraining` forward: MLM logits at every position and SOP logits (what HF's
    /// model returns), no autodiff.
    Infer,
    /// Forward, MLM loss at the masked positions + SOP loss, backward, AdamW step.
    Train,
}

impl Mode {
    /// The names accepted by `--mode`.
    pub const NAMES: [&'static str; 2] = ["infer", "train"];
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "infer" => Ok(Mode::Infer),
            "train" => Ok(Mode::Train),
            _ => Err(format!(
                "unknown mode {s:?} (expected {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// One cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Model size.
    pub size: Size,
    /// Inference or training step.
    pub mode: Mode,
    /// Sequences per batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq: usize,
}

impl Scenario {
    /// `base-train-8x128`.
    pub fn name(&self) -> String {
        format!("{}-{}-{}x{}", self.size, self.mode, self.batch, self.seq)
    }

    /// Matmul FLOPs of one iteration as this implementation computes it: the embedding
    /// projection, Q/K/V/output projections, attention scores and context, the feed-forward,
    /// pooler and SOP head, and the MLM head at every position (inference) or at the
    /// [`PREDICTIONS_PER_SEQ`] masked positions (training). A training step counts 3× its
    /// forward (backward ≈ 2× forward); element-wise work is not counted.
    pub fn flops(&self) -> f64 {
        let c = self.size.config();
        let mlm_rows = match self.mode {
            Mode::Infer => self.seq,
            Mode::Train => PREDICTIONS_PER_SEQ.min(self.seq),
        };
        let forward = forward_flops(&c, self.seq, mlm_rows) * self.batch as f64;
        match self.mode {
            Mode::Infer => forward,
            Mode::Train => 3.0 * forward,
        }
    }
}

/// Forward matmul FLOPs of one sequence of `n` tokens with the MLM head applied to `mlm_rows`
/// positions.
pub fn forward_flops(c: &AlbertConfig, n: usize, mlm_rows: usize) -> f64 {
    let (n, m) = (n as f64, mlm_rows as f64);
    let (v, e, h, i) = (
        c.vocab_size as f64,
        c.embedding_size as f64,
        c.hidden_size as f64,
        c.intermediate_size as f64,
    );
    let layers = c.num_hidden_layers as f64;
    let projection = 2.0 * n * e * h;
    let layer = 8.0 * n * h * h + 4.0 * n * n * h + 4.0 * n * h * i;
    let pooler_sop = 2.0 * h * h + 4.0 * h;
    let mlm = 2.0 * m * h * e + 2.0 * m * e * v;
    projection + layers * layer + pooler_sop + mlm
}

/// A batch of random full-length pretraining instances (no padding): `[CLS] A [SEP] B [SEP]`
/// with the split in the middle, [`PREDICTIONS_PER_SEQ`] distinct masked positions and random
/// SOP labels; seeded, so every run builds the same batch.
pub fn random_batch(
    config: &AlbertConfig,
    batch: usize,
    seq: usize,
    seed: u64,
    device: &Device,
) -> PretrainBatch {
    let mut rng = albert_core::rng::seeded(seed);
    let vocab = config.vocab_size as u32;
    let instances: Vec<Instance> = (0..batch)
        .map(|_| {
            let input_ids: Vec<u32> = (0..seq).map(|_| rng.random_range(5..vocab)).collect();
            let segment_ids = (0..seq).map(|j| u32::from(j >= seq / 2)).collect();
            let k = PREDICTIONS_PER_SEQ.min(seq);
            let mut masked_positions = rand::seq::index::sample(&mut rng, seq, k).into_vec();
            masked_positions.sort_unstable();
            let masked_labels = masked_positions
                .iter()
                .map(|_| rng.random_range(5..vocab))
                .collect();
            Instance {
                input_ids,
                segment_ids,
                masked_positions,
                masked_labels,
                sentence_label: rng.random_range(0..2),
            }
        })
        .collect();
    collate(&instances, Some(seq), 0, device)
}

/// A model and a batch, ready to time one iteration at a time.
pub struct Workload {
    scenario: Scenario,
    /// On the device for inference, on its autodiff version for training; taken out and put
    /// back around each optimiser step.
    model: Option<AlbertForPreTraining>,
    batch: PretrainBatch,
    /// AdamW for training, `None` for inference.
    optim: Option<ModuleOptimizer>,
}

impl fmt::Debug for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("scenario", &self.scenario)
            .finish_non_exhaustive()
    }
}

impl Workload {
    /// Initialises the model (seed 0) and the batch on `device` (training uses its autodiff
    /// version).
    pub fn new(scenario: Scenario, device: &Device) -> Self {
        let config = scenario.size.config();
        let (device, optim) = match scenario.mode {
            Mode::Infer => (device.clone(), None),
            Mode::Train => (
                device.clone().autodiff(),
                Some(
                    AdamWConfig::new()
                        .with_weight_decay(0.01)
                        .with_epsilon(1e-6)
                        .init(),
                ),
            ),
        };
        Self {
            scenario,
            model: Some(AlbertForPreTraining::init(&config, 0, &device)),
            batch: random_batch(&config, scenario.batch, scenario.seq, 1, &device),
            optim,
        }
    }

    /// The scenario this workload runs.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// Runs one iteration and waits for the device to finish it. Returns the loss of a
    /// training step (NaN for inference) so callers can check that it stays finite.
    pub fn step(&mut self) -> f32 {
        let model = self
            .model
            .take()
            .unwrap_or_else(|| unreachable!("the model is put back after every step"));
        let (model, value) = match &mut self.optim {
            None => {
                let out = model.forward(self.batch.input.clone(), EncoderOutputs::default());
                let device = out.sop_logits.device();
                drop(out);
                sync(&device);
                (model, f32::NAN)
            }
            Some(optim) => {
                let out = pretrain_forward(&model, &self.batch, SentenceTask::Sop);
                let grads = GradientsParams::from_grads(out.loss.backward(), &model);
                let model = optim.step(1e-4, model, grads);
                (model, out.loss.inner().into_scalar::<f32>())
            }
        };
        self.model = Some(model);
        value
    }
}

/// Waits until `device` has run everything queued on it (a no-op on eager CPU backends).
pub fn sync(device: &Device) {
    if let Err(e) = device.sync() {
        panic!("device sync failed: {e:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(mode: Mode) -> Scenario {
        Scenario {
            size: Size::Tiny,
            mode,
            batch: 32,
            seq: 128,
        }
    }

    /// By hand for V 1000, E 32, H 64, I 128, 3 layers, n 128: projection 2·128·32·64 =
    /// 524,288; a layer 8·128·64² + 4·128²·64 + 4·128·64·128 = 12,582,912 (×3); pooler + SOP
    /// 2·64² + 4·64 = 8,448; MLM at 128 rows 2·128·64·32 + 2·128·32·1000 = 8,716,288, at 20 rows
    /// 1,361,920. (`pytorch_bench.py` printed 1503928320 for the same inference.)
    #[test]
    fn flops_match_hand_count() {
        assert_eq!(scenario(Mode::Infer).flops(), 32.0 * 46_997_760.0);
        assert_eq!(scenario(Mode::Infer).flops(), 1_503_928_320.0);
        assert_eq!(scenario(Mode::Train).flops(), 3.0 * 32.0 * 39_643_392.0);
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(scenario(Mode::Train).name(), "tiny-train-32x128");
        for s in Size::NAMES {
            assert_eq!(s.parse::<Size>().map(|x| x.to_string()).as_deref(), Ok(s));
        }
        for m in Mode::NAMES {
            assert_eq!(m.parse::<Mode>().map(|x| x.to_string()).as_deref(), Ok(m));
        }
        assert!("huge".parse::<Size>().is_err());
    }

    /// The flex device with the fused kernels installed, as `albert-bench` runs it.
    fn cpu() -> Device {
        albert_kernels::install();
        Device::flex()
    }

    #[test]
    fn random_batch_has_the_requested_shape() {
        let device = cpu();
        let config = Size::Tiny.config();
        let b = random_batch(&config, 3, 16, 7, &device);
        assert_eq!(b.input.input_ids.dims(), [3, 16]);
        assert_eq!(b.sequences, 3);
        assert_eq!(b.tokens, 48);
        assert_eq!(b.predictions, 3 * 16.min(PREDICTIONS_PER_SEQ));
        assert_eq!(b.masked_positions.dims(), [b.predictions]);
    }

    /// The timed training step really trains: on one fixed batch, AdamW drives the loss down.
    #[test]
    fn train_step_lowers_the_loss_on_a_fixed_batch() {
        let device = cpu();
        let mut w = Workload::new(
            Scenario {
                size: Size::Tiny,
                mode: Mode::Train,
                batch: 4,
                seq: 32,
            },
            &device,
        );
        let first = w.step();
        let mut last = first;
        for _ in 0..15 {
            last = w.step();
        }
        assert!(first.is_finite() && last.is_finite());
        assert!(last < first - 0.1, "loss {first} -> {last}");
        // ln(1000) + ln(2): an untrained model's MLM + SOP loss.
        assert!((first - (1000f32.ln() + 2f32.ln())).abs() < 0.3, "{first}");
    }

    #[test]
    fn inference_step_runs() {
        let device = cpu();
        let mut w = Workload::new(scenario(Mode::Infer), &device);
        assert!(w.step().is_nan());
        assert_eq!(w.scenario().name(), "tiny-infer-32x128");
    }
}
