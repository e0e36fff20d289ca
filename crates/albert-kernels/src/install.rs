//! The kernels as albert-core's [`Kernels`]: what [`install`] plugs into the model's
//! operations.

use albert_core::ops::{Kernels, install_kernels, installed_kernels};
use albert_core::precision::Precision;
use burn::tensor::{Device, Tensor};

/// The flex kernels of this crate behind albert-core's [`Kernels`] interface: every method
/// applies to flex devices, with or without autodiff ([`crate::on_flex`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct FlexKernels;

impl Kernels for FlexKernels {
    fn supports(&self, device: &Device) -> bool {
        crate::on_flex(device)
    }

    fn linear(
        &self,
        x: Tensor<2>,
        w: Tensor<2>,
        b: Tensor<1>,
        operands: Precision,
        output: Precision,
    ) -> Tensor<2> {
        crate::linear(x, w, b, operands, output)
    }

    fn linear3(
        &self,
        x: Tensor<2>,
        w: [Tensor<2>; 3],
        b: [Tensor<1>; 3],
        operands: Precision,
        output: Precision,
    ) -> [Tensor<2>; 3] {
        crate::linear3(x, w, b, operands, output)
    }

    fn linear_residual(
        &self,
        x: Tensor<2>,
        w: Tensor<2>,
        b: Tensor<1>,
        residual: Tensor<2>,
        operands: Precision,
    ) -> Tensor<2> {
        crate::linear_residual(x, w, b, residual, operands)
    }

    fn layer_norm(
        &self,
        x: Tensor<2>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        epsilon: f64,
    ) -> Tensor<2> {
        crate::layer_norm(x, gamma, beta, epsilon)
    }

    fn layer_norm_operand(
        &self,
        x: Tensor<2>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        epsilon: f64,
        output: Precision,
    ) -> (Tensor<2>, Tensor<2>) {
        crate::layer_norm_operand(x, gamma, beta, epsilon, output)
    }

    fn log_softmax(&self, x: Tensor<2>) -> Tensor<2> {
        crate::log_softmax(x)
    }

    fn gelu_tanh(&self, x: Tensor<2>, output: Precision) -> Tensor<2> {
        crate::gelu_tanh(x, output)
    }

    fn round(&self, x: Tensor<2>, precision: Precision) -> Tensor<2> {
        crate::round(x, precision)
    }

    fn weight_operand(&self, w: Tensor<2>, precision: Precision) -> Tensor<2> {
        crate::round_weight(w, precision)
    }

    fn attention_probs(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        mask: Tensor<4>,
        heads: usize,
    ) -> Tensor<4> {
        let scale = 1.0 / ((q.dims()[2] / heads) as f64).sqrt();
        crate::masked_softmax(crate::attention_scores(q, k, heads, scale), mask)
    }

    fn attention_context(
        &self,
        probs: Tensor<4>,
        v: Tensor<3>,
        heads: usize,
        precision: Precision,
    ) -> Tensor<3> {
        crate::attention_context(probs, v, heads, precision)
    }

    fn attention_inference(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        v: Tensor<3>,
        mask: Tensor<4>,
        heads: usize,
        output: Precision,
    ) -> Tensor<3> {
        crate::attention_rows(q, k, v, mask, heads, output)
    }
}

/// Installs [`FlexKernels`] for this process (albert-core's [`install_kernels`]): from now on
/// ALBERT models on flex devices run through them. Idempotent; returns whether they are the
/// installed kernels (`false` when a program installed other kernels first).
pub fn install() -> bool {
    static KERNELS: FlexKernels = FlexKernels;
    install_kernels(&KERNELS) || installed_kernels().is_some_and(|k| std::ptr::addr_eq(k, &KERNELS))
}
