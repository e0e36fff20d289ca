//! The encoder: the `E → H` projection, then `L` layer applications over shared parameter groups
//! (paper §3.1 "cross-layer parameter sharing"; HF `AlbertTransformer` + `AlbertLayerGroup`).
//!
//! An ALBERT layer is an attention block followed by a feed-forward block. The two halves are
//! stored separately — `attention_groups[g][j]` and `ffn_groups[g][j]` for group `g` and inner
//! layer `j` — so that the paper's partial-sharing ablations ([`SharingMode`]) only change how
//! many groups each half has. Layer application `i` uses group
//! `int(i / (L / groups))` of each half (HF's formula), then runs the group's inner layers
//! `j = 0..inner_group_num` in order. With [`SharingMode::All`] both halves have
//! `num_hidden_groups` groups, which is exactly HF's `albert_layer_groups.{g}.albert_layers.{j}`.
//!
//! [`SharingMode`]: crate::SharingMode
//! [`SharingMode::All`]: crate::SharingMode::All

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::attention::AlbertAttention;
use crate::config::{AlbertConfig, group_index};
use crate::feed_forward::AlbertFeedForward;
use crate::init::ParamInit;
use crate::ops::linear_rows;

/// The encoder stack.
#[derive(Module, Debug)]
pub struct AlbertTransformer {
    /// The factorised-embedding projection `E → H`.
    pub embedding_hidden_mapping_in: Linear,
    /// `[group][inner layer]` attention blocks.
    pub attention_groups: Vec<Vec<AlbertAttention>>,
    /// `[group][inner layer]` feed-forward blocks.
    pub ffn_groups: Vec<Vec<AlbertFeedForward>>,
    /// Number of layer applications `L`.
    #[module(skip)]
    pub num_hidden_layers: usize,
}

/// What the encoder records besides its last hidden state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncoderOutputs {
    /// Record the hidden state after the projection and after every layer application.
    pub hidden_states: bool,
    /// Record every attention probability tensor.
    pub attentions: bool,
    /// Record the output of every inner layer that is not the last of its group.
    pub inner_layer_outputs: bool,
}

/// The encoder's outputs.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// `[B, n, H]`.
    pub last_hidden_state: Tensor<3>,
    /// `1 + L` tensors `[B, n, H]`: index 0 is after the projection (HF convention), index
    /// `i + 1` after application `i`.
    pub hidden_states: Option<Vec<Tensor<3>>>,
    /// `L · inner_group_num` tensors `[B, A, n, n]`, in application order.
    pub attentions: Option<Vec<Tensor<4>>>,
    /// `((i, j), [B, n, H])` for every application `i` and inner layer `j < inner_group_num - 1`.
    pub inner_layer_outputs: Option<Vec<((usize, usize), Tensor<3>)>>,
}

impl AlbertTransformer {
    /// A fresh encoder for `config` (group counts from [`AlbertConfig::attention_groups`] and
    /// [`AlbertConfig::ffn_groups`]).
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        let embedding_hidden_mapping_in =
            init.linear(config.embedding_size, config.hidden_size, device);
        let inner = config.inner_group_num;
        let attention_groups = (0..config.attention_groups())
            .map(|_| {
                (0..inner)
                    .map(|_| AlbertAttention::new(config, init, device))
                    .collect()
            })
            .collect();
        let ffn_groups = (0..config.ffn_groups())
            .map(|_| {
                (0..inner)
                    .map(|_| AlbertFeedForward::new(config, init, device))
                    .collect()
            })
            .collect();
        Self {
            embedding_hidden_mapping_in,
            attention_groups,
            ffn_groups,
            num_hidden_layers: config.num_hidden_layers,
        }
    }

    /// Layer applications `L`, groups per half and inner layers, as `(L, attention groups, ffn
    /// groups, inner)`.
    pub fn layout(&self) -> (usize, usize, usize, usize) {
        (
            self.num_hidden_layers,
            self.attention_groups.len(),
            self.ffn_groups.len(),
            self.attention_groups.first().map_or(0, Vec::len),
        )
    }

    /// # Shapes
    /// - `embeddings`: `[B, n, E]`
    /// - `mask_add`: `[B, 1, 1, n]` additive attention mask (see [`AlbertAttention::forward`])
    pub fn forward(
        &self,
        embeddings: Tensor<3>,
        mask_add: Tensor<4>,
        record: EncoderOutputs,
    ) -> EncoderOutput {
        let layers = self.num_hidden_layers;
        // Under bf16 each shared weight is rounded once for all its layer applications.
        let _shared = crate::ops::shared_weights();
        let mut x = linear_rows(&self.embedding_hidden_mapping_in, embeddings);
        let mut hidden_states = record.hidden_states.then(|| vec![x.clone()]);
        let mut attentions = record.attentions.then(Vec::new);
        let mut inner_outputs = record.inner_layer_outputs.then(Vec::new);

        // Each sublayer's input rows as its first products' operand, handed on by the
        // LayerNorm before it (one pass writes both under bf16 or fp16 in inference).
        let mut rows = crate::ops::Operand::rows(x.clone());
        for i in 0..layers {
            let attention =
                &self.attention_groups[group_index(i, layers, self.attention_groups.len())];
            let ffn = &self.ffn_groups[group_index(i, layers, self.ffn_groups.len())];
            let inner = attention.len();
            for (j, (attention, ffn)) in attention.iter().zip(ffn).enumerate() {
                let (a, a_rows, probs) =
                    attention.forward_operand(x, rows.clone(), mask_add.clone(), record.attentions);
                if i + 1 == layers && j + 1 == inner {
                    // The last layer's output is no product's operand here.
                    x = ffn.forward_of(a, a_rows);
                } else {
                    (x, rows) = ffn.forward_operand(a, a_rows);
                }
                if let (Some(all), Some(p)) = (attentions.as_mut(), probs) {
                    all.push(p);
                }
                if j + 1 < inner
                    && let Some(outs) = inner_outputs.as_mut()
                {
                    outs.push(((i, j), x.clone()));
                }
            }
            if let Some(states) = hidden_states.as_mut() {
                states.push(x.clone());
            }
        }
        EncoderOutput {
            last_hidden_state: x,
            hidden_states,
            attentions,
            inner_layer_outputs: inner_outputs,
        }
    }
}
