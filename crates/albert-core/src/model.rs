//! [`AlbertModel`]: embeddings → encoder → pooler (HF `AlbertModel`).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::tanh;
use burn::tensor::{Bool, Device, Int, Tensor};

use crate::config::AlbertConfig;
use crate::embeddings::AlbertEmbeddings;
use crate::error::{AlbertError, Result};
use crate::init::ParamInit;
use crate::transformer::{AlbertTransformer, EncoderOutput, EncoderOutputs};

/// The ALBERT body.
#[derive(Module, Debug)]
pub struct AlbertModel {
    /// Factorised embeddings in `E`.
    pub embeddings: AlbertEmbeddings,
    /// Projection to `H` and the shared layers.
    pub encoder: AlbertTransformer,
    /// `tanh(pooler(h[:, 0]))`; absent in models built without it (HF QA and token
    /// classification: `add_pooling_layer=False`).
    pub pooler: Option<Linear>,
}

/// A batch of token ids on the device, with optional token types and padding mask.
#[derive(Debug, Clone)]
pub struct AlbertInput {
    /// `[B, n]` token ids.
    pub input_ids: Tensor<2, Int>,
    /// `[B, n]` segment ids; all zeros when absent.
    pub token_type_ids: Option<Tensor<2, Int>>,
    /// `[B, n]`, `true` at padding positions (keys that must not be attended to).
    pub mask_pad: Option<Tensor<2, Bool>>,
}

impl AlbertInput {
    /// Token ids only: one segment, no padding.
    pub fn new(input_ids: Tensor<2, Int>) -> Self {
        Self {
            input_ids,
            token_type_ids: None,
            mask_pad: None,
        }
    }

    /// Sets the segment ids.
    pub fn with_token_type_ids(mut self, token_type_ids: Tensor<2, Int>) -> Self {
        self.token_type_ids = Some(token_type_ids);
        self
    }

    /// Sets the padding mask (`true` = padding).
    pub fn with_mask_pad(mut self, mask_pad: Tensor<2, Bool>) -> Self {
        self.mask_pad = Some(mask_pad);
        self
    }

    /// Checks that the shapes agree with each other and with `config` (no device read-back).
    pub fn check_shapes(&self, config: &AlbertConfig) -> Result<()> {
        let [b, n] = self.input_ids.dims();
        if b == 0 || n == 0 {
            return Err(AlbertError::input(format!(
                "empty batch: input_ids is [{b}, {n}]"
            )));
        }
        if n > config.max_position_embeddings {
            return Err(AlbertError::input(format!(
                "sequence length {n} exceeds max_position_embeddings {}",
                config.max_position_embeddings
            )));
        }
        if let Some(t) = &self.token_type_ids
            && t.dims() != [b, n]
        {
            return Err(AlbertError::input(format!(
                "token_type_ids is {:?} but input_ids is [{b}, {n}]",
                t.dims()
            )));
        }
        if let Some(m) = &self.mask_pad
            && m.dims() != [b, n]
        {
            return Err(AlbertError::input(format!(
                "attention mask is {:?} but input_ids is [{b}, {n}]",
                m.dims()
            )));
        }
        Ok(())
    }
}

/// What [`AlbertModel::forward`] returns.
#[derive(Debug, Clone)]
pub struct AlbertOutput {
    /// `[B, n, E]`: the normalised embeddings, before the projection.
    pub embedding_output: Tensor<3>,
    /// `[B, n, H]`.
    pub last_hidden_state: Tensor<3>,
    /// `[B, H]`, when the model has a pooler.
    pub pooler_output: Option<Tensor<2>>,
    /// See [`EncoderOutput::hidden_states`].
    pub hidden_states: Option<Vec<Tensor<3>>>,
    /// See [`EncoderOutput::attentions`].
    pub attentions: Option<Vec<Tensor<4>>>,
    /// See [`EncoderOutput::inner_layer_outputs`].
    pub inner_layer_outputs: Option<Vec<((usize, usize), Tensor<3>)>>,
}

impl AlbertModel {
    /// A freshly initialised body (see [`crate::init`]), with or without the pooler.
    pub fn new(
        config: &AlbertConfig,
        with_pooler: bool,
        init: &mut ParamInit,
        device: &Device,
    ) -> Self {
        Self {
            embeddings: AlbertEmbeddings::new(config, init, device),
            encoder: AlbertTransformer::new(config, init, device),
            pooler: with_pooler
                .then(|| init.linear(config.hidden_size, config.hidden_size, device)),
        }
    }

    /// Runs the body; `record` selects the optional outputs.
    ///
    /// # Shapes
    /// - input: `[B, n]` ids (types and mask the same), `n ≤ max_position_embeddings`
    /// - `last_hidden_state` `[B, n, H]`, `pooler_output` `[B, H]`
    pub fn forward(&self, input: AlbertInput, record: EncoderOutputs) -> AlbertOutput {
        let [b, n] = input.input_ids.dims();
        let device = input.input_ids.device();
        let token_type_ids = input
            .token_type_ids
            .unwrap_or_else(|| Tensor::zeros([b, n], &device));
        let embedding_output = self.embeddings.forward(input.input_ids, token_type_ids);
        let mask_add = additive_mask(input.mask_pad, [b, n], &device);
        let EncoderOutput {
            last_hidden_state,
            hidden_states,
            attentions,
            inner_layer_outputs,
        } = self
            .encoder
            .forward(embedding_output.clone(), mask_add, record);
        let pooler_output = self.pooler.as_ref().map(|pooler| {
            let cls = last_hidden_state
                .clone()
                .narrow(1, 0, 1)
                .reshape([b, last_hidden_state.dims()[2]]);
            tanh(crate::ops::linear(pooler, cls))
        });
        AlbertOutput {
            embedding_output,
            last_hidden_state,
            pooler_output,
            hidden_states,
            attentions,
            inner_layer_outputs,
        }
    }
}

/// HF's additive mask `(1 - attention_mask) · f32::MIN`, shaped `[B, 1, 1, n]`.
fn additive_mask(
    mask_pad: Option<Tensor<2, Bool>>,
    [b, n]: [usize; 2],
    device: &Device,
) -> Tensor<4> {
    let zeros = Tensor::<2>::zeros([b, n], device);
    let mask = match mask_pad {
        Some(pad) => zeros.mask_fill(pad, f32::MIN),
        None => zeros,
    };
    mask.reshape([b, 1, 1, n])
}
