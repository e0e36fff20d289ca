//! The pretraining objectives (paper §3.1 and §4.1): masked-LM cross-entropy computed only at
//! the masked positions (the original and HF project every position onto the vocabulary and
//! then ignore all but ~15% of them), the sentence-level cross-entropy, their sum, and the
//! metrics `masked_lm_accuracy`, `masked_lm_loss`, `sentence_order_accuracy`,
//! `sentence_order_loss`.

use albert_core::loss::{IGNORE_INDEX, cross_entropy};
use albert_core::{AlbertForPreTraining, EncoderOutputs};
use burn::tensor::{Int, Tensor};

use crate::batch::PretrainBatch;
use crate::data::SentenceTask;

/// Losses and logits of one forward pass.
#[derive(Debug, Clone)]
pub struct PretrainOutput {
    /// Mean cross-entropy over the masked positions.
    pub mlm_loss: Tensor<1>,
    /// Sentence-order (or NSP) cross-entropy; `None` with [`SentenceTask::None`].
    pub sentence_loss: Option<Tensor<1>>,
    /// `mlm_loss + sentence_loss`: what is differentiated.
    pub loss: Tensor<1>,
    /// `[K, V]` logits at the masked positions.
    pub mlm_logits: Tensor<2>,
    /// `[B, 2]` sentence-level logits.
    pub sentence_logits: Tensor<2>,
}

/// Scalar metrics of a forward pass (read back from the device).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PretrainMetrics {
    /// `masked_lm_loss`.
    pub masked_lm_loss: f64,
    /// `masked_lm_accuracy`: share of masked positions whose arg-max is the original id.
    pub masked_lm_accuracy: f64,
    /// `sentence_order_loss` (NaN without a sentence task).
    pub sentence_order_loss: f64,
    /// `sentence_order_accuracy`.
    pub sentence_order_accuracy: f64,
    /// Masked positions the accuracy is over.
    pub predictions: usize,
    /// Sequences the sentence accuracy is over.
    pub sequences: usize,
}

/// Runs the model on `batch` and computes the losses.
pub fn pretrain_forward(
    model: &AlbertForPreTraining,
    batch: &PretrainBatch,
    task: SentenceTask,
) -> PretrainOutput {
    let body = model
        .albert
        .forward(batch.input.clone(), EncoderOutputs::default());
    let mlm_logits = model.mlm_logits_at(
        body.last_hidden_state.clone(),
        batch.masked_positions.clone(),
    );
    let sentence_logits = model.sop_logits(&body);
    let mlm_loss = cross_entropy(
        mlm_logits.clone(),
        batch.masked_labels.clone(),
        IGNORE_INDEX,
    );
    let sentence_loss = (task != SentenceTask::None).then(|| {
        cross_entropy(
            sentence_logits.clone(),
            batch.sentence_labels.clone(),
            IGNORE_INDEX,
        )
    });
    let loss = match &sentence_loss {
        Some(s) => mlm_loss.clone() + s.clone(),
        None => mlm_loss.clone(),
    };
    PretrainOutput {
        mlm_loss,
        sentence_loss,
        loss,
        mlm_logits,
        sentence_logits,
    }
}

fn correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> f64 {
    let [k, _] = logits.dims();
    if k == 0 {
        return 0.0;
    }
    let predicted = logits.argmax(1).reshape([k]);
    predicted.equal(labels).int().sum().into_scalar::<i64>() as f64
}

impl PretrainOutput {
    /// Reads the metrics back.
    pub fn metrics(&self, batch: &PretrainBatch) -> PretrainMetrics {
        let k = batch.predictions;
        let b = batch.sequences;
        PretrainMetrics {
            masked_lm_loss: f64::from(self.mlm_loss.clone().into_scalar::<f32>()),
            masked_lm_accuracy: if k == 0 {
                0.0
            } else {
                correct(self.mlm_logits.clone(), batch.masked_labels.clone()) / k as f64
            },
            sentence_order_loss: self
                .sentence_loss
                .as_ref()
                .map_or(f64::NAN, |l| f64::from(l.clone().into_scalar::<f32>())),
            sentence_order_accuracy: correct(
                self.sentence_logits.clone(),
                batch.sentence_labels.clone(),
            ) / b.max(1) as f64,
            predictions: k,
            sequences: b,
        }
    }
}
