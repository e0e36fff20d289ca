//! Held-out evaluation: the periodic one (the run's own sentence task, with the masked-LM
//! unigram baseline) and the end-of-run one (`final_eval.json`: MLM, pure SOP and NSP).

use albert_core::AlbertForPreTraining;
use burn::module::Module;
use burn::tensor::Device;

use super::Window;
use super::config::PretrainConfig;
use super::metrics::MetricsRecord;
use crate::batch::collate;
use crate::data::{Instance, SentenceTask, TokenizedCorpus, epoch_instances};
use crate::objectives::pretrain_forward;

/// Share of the most frequent masked label among all masked labels of `instances`.
fn unigram_baseline(instances: &[Instance]) -> Option<f64> {
    let mut counts = std::collections::HashMap::new();
    for l in instances.iter().flat_map(|i| &i.masked_labels) {
        *counts.entry(*l).or_insert(0usize) += 1;
    }
    let total: usize = counts.values().sum();
    (total > 0).then(|| counts.values().copied().max().unwrap_or(0) as f64 / total as f64)
}

pub(super) fn evaluate(
    model: &AlbertForPreTraining,
    eval: &[Instance],
    config: &PretrainConfig,
    device: &Device,
    step: u64,
) -> MetricsRecord {
    let model = model.valid();
    let mut w = Window::default();
    for chunk in eval.chunks(config.run.batch_size) {
        let batch = collate(chunk, None, model_pad(config), device);
        let out = pretrain_forward(&model, &batch, config.instances.sentence_task);
        w.add(&out.metrics(&batch), batch.tokens);
    }
    let mut r = w.record("eval", step, config.instances.sentence_task);
    r.masked_lm_unigram_baseline = unigram_baseline(eval);
    r
}

fn model_pad(_config: &PretrainConfig) -> u32 {
    0
}

/// The end-of-run evaluation written to `final_eval.json`: held-out masked-LM accuracy, and the
/// sentence head's accuracy on both sentence-level tasks whatever the run trained on — the
/// paper's Table 5 columns (an NSP-trained model is scored on SOP and vice versa).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FinalEval {
    /// Steps the model was trained for.
    pub step: u64,
    /// The sentence-level objective of training.
    pub trained_task: SentenceTask,
    /// Held-out masked-LM accuracy (on the SOP-built instances).
    pub masked_lm_accuracy: f64,
    /// Held-out masked-LM loss.
    pub masked_lm_loss: f64,
    /// Always predicting the most frequent masked token.
    pub masked_lm_unigram_baseline: f64,
    /// Held-out sentence-order accuracy (pure SOP pairs: single-segment chunks skipped).
    pub sop_accuracy: f64,
    /// Held-out next-sentence accuracy (half of the B segments from another held-out document).
    pub nsp_accuracy: f64,
    /// Held-out instances per task.
    pub instances: usize,
}

/// Scores `model` on held-out MLM, SOP and NSP instances (at most `limit` of each).
pub fn evaluate_sentence_tasks(
    model: &AlbertForPreTraining,
    held_out: &TokenizedCorpus,
    config: &PretrainConfig,
    device: &Device,
    step: u64,
    limit: usize,
) -> FinalEval {
    let score = |task| {
        let mut cfg = config.clone();
        cfg.instances = config.eval_instances();
        cfg.instances.sentence_task = task;
        cfg.instances.single_chunk = crate::data::SingleChunkPolicy::Skip;
        let set: Vec<Instance> = epoch_instances(held_out, &cfg.instances, 0)
            .into_iter()
            .take(limit)
            .collect();
        (evaluate(model, &set, &cfg, device, step), set.len())
    };
    let (sop, n) = score(SentenceTask::Sop);
    let (nsp, _) = score(SentenceTask::Nsp);
    FinalEval {
        step,
        trained_task: config.instances.sentence_task,
        masked_lm_accuracy: sop.masked_lm_accuracy,
        masked_lm_loss: sop.masked_lm_loss,
        masked_lm_unigram_baseline: sop.masked_lm_unigram_baseline.unwrap_or(f64::NAN),
        sop_accuracy: sop.sentence_order_accuracy,
        nsp_accuracy: nsp.sentence_order_accuracy,
        instances: n,
    }
}
