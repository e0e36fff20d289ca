//! The bf16 kernels against burn's cast and the float32 kernels: the rounding, bf16 operands
//! of a product, and the outputs a kernel hands on rounded.

use super::*;

/// The fused bf16 rounding against burn's cast to bf16 and back (flex's conversion, `half`'s
/// round-to-nearest-even), bit for bit, on a non-contiguous view and on values that tie,
/// overflow and are not finite; its gradient is the incoming gradient unchanged.
#[test]
fn round_bf16_matches_the_cast_and_passes_the_gradient() {
    use burn::tensor::{Distribution, FloatDType, TensorData};

    let device = Device::flex().autodiff();
    let mut special = vec![
        1.0 + 1.0 / 256.0, // a tie: to even (1.0)
        1.0 + 3.0 / 256.0, // a tie: to even (up)
        f32::MAX,          // past bf16's largest: infinity
        f32::INFINITY,
        -f32::INFINITY,
        -0.0,
        1e-40,
        3.0e38,
    ];
    special.resize(5 * 7, 0.5);
    let fixed = Tensor::<2>::from_data(TensorData::new(special, [5, 7]), &device);
    let random = Tensor::<2>::random([7, 5], Distribution::Normal(0.0, 40.0), &device);
    for x in [fixed.clone(), random.swap_dims(0, 1)] {
        let fused = values(round_bf16(x.clone()));
        let cast = values(x.cast(FloatDType::BF16).cast(FloatDType::F32));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fused), bits(&cast));
    }
    assert_eq!(
        values(round_bf16(fixed.clone()))[..3],
        [1.0, 1.0 + 4.0 / 256.0, f32::INFINITY]
    );

    let x = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let w = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &device);
    let grads = (round_bf16(x.clone()) * w.clone()).sum().backward();
    assert_eq!(values(x.grad(&grads).expect("dx")), values(w));
}

/// Under `autocast(Bf16)` the model's products take rounded operands: `ops::affine` through
/// the kernels equals the f32 kernel on operands rounded first, and differs from the f32
/// product (so the precision is not ignored); outside the guard it is the f32 product again.
#[test]
fn affine_in_bf16_rounds_its_operands() {
    use albert_core::ops;
    use albert_core::precision::{Precision, autocast};
    use burn::tensor::Distribution;

    crate::install();
    let device = Device::flex();
    let x = Tensor::<2>::random([9, 33], Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<2>::random([33, 17], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<1>::random([17], Distribution::Normal(0.0, 1.0), &device);
    let f32_product = values(ops::affine(x.clone(), w.clone(), b.clone()));
    let rounded = values(linear(
        round_bf16(x.clone()),
        round_bf16(w.clone()),
        b.clone(),
        Precision::Bf16,
        Precision::Fp32,
    ));
    let bf16 = {
        let _bf16 = autocast(Precision::Bf16);
        values(ops::affine(x.clone(), w.clone(), b.clone()))
    };
    assert_eq!(bf16, rounded);
    let largest = bf16
        .iter()
        .zip(&f32_product)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // 33 products of N(0,1) values with 8-bit operands: errors of order 2⁻⁹·√33·|x||w|.
    assert!(largest > 1e-4 && largest < 0.2, "bf16 vs f32: {largest}");
    assert_eq!(values(ops::affine(x, w, b)), f32_product);
}

/// The kernels that hand their output on as a bf16 operand (`round_output` / `bf16`) write
/// exactly the bfloat16 rounding of their float32 output — the linear layer, GELU, the training
/// context and the inference attention — and pass the gradient through that rounding: the
/// input gradients equal the unrounded kernel's bit for bit (for the context, whose
/// probabilities it also rounds, against the rounded-probabilities product).
#[test]
fn kernels_round_the_outputs_they_hand_on() {
    use burn::tensor::{Distribution, TensorData};

    let device = Device::flex().autodiff();
    let normal = |shape: [usize; 2]| {
        Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device)
            .detach()
            .require_grad()
    };
    let (x, w) = (normal([37, 19]), normal([19, 23]));
    let b = Tensor::<1>::random([23], Distribution::Normal(0.0, 1.0), &device);
    let g = Tensor::<2>::random([37, 23], Distribution::Normal(0.0, 1.0), &device);
    let run = |round: bool| {
        let output = if round {
            Precision::Bf16
        } else {
            Precision::Fp32
        };
        let y = linear(x.clone(), w.clone(), b.clone(), Precision::Fp32, output);
        let grads = (y.clone() * g.clone()).sum().backward();
        (
            values(y),
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
        )
    };
    let (rounded, plain) = (run(true), run(false));
    assert_eq!(
        rounded.0,
        values(round_bf16(Tensor::<1>::from_floats(
            plain.0.as_slice(),
            &device
        )))
    );
    assert_ne!(rounded.0, plain.0);
    assert_eq!((rounded.1, rounded.2), (plain.1, plain.2));

    let gelu = |round: bool| {
        let y = gelu_tanh(x.clone(), round);
        let grads = (y.clone() * x.clone().detach()).sum().backward();
        (values(y), values(x.grad(&grads).unwrap()))
    };
    let (rounded, plain) = (gelu(true), gelu(false));
    assert_eq!(
        rounded.0,
        values(round_bf16(Tensor::<1>::from_floats(
            plain.0.as_slice(),
            &device
        )))
    );
    assert_eq!(rounded.1, plain.1);

    // The context: its f32 output from rounded probabilities, rounded.
    let (bsz, n, heads, d) = (2, 7, 3, 5);
    let p = Tensor::<4>::random([bsz, heads, n, n], Distribution::Uniform(0.0, 1.0), &device);
    let v = Tensor::<3>::random([bsz, n, heads * d], Distribution::Normal(0.0, 1.0), &device);
    let bf16_context = values(attention_context(p.clone(), v.clone(), heads, true));
    let f32_context = values(attention_context(
        round_bf16(p.clone()),
        v.clone(),
        heads,
        false,
    ));
    assert_eq!(
        bf16_context,
        values(round_bf16(Tensor::<1>::from_floats(
            f32_context.as_slice(),
            &device
        )))
    );

    // Inference attention (no autodiff): its float32 context, rounded.
    let device = Device::flex();
    let qkv = || Tensor::<3>::random([bsz, n, heads * d], Distribution::Normal(0.0, 1.0), &device);
    let (q, k, v) = (qkv(), qkv(), qkv());
    let mask = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32; bsz * n], [bsz, 1, 1, n]),
        &device,
    );
    let rounded = values(attention_rows(
        q.clone(),
        k.clone(),
        v.clone(),
        mask.clone(),
        heads,
        true,
    ));
    let plain = values(attention_rows(q, k, v, mask, heads, false));
    assert_eq!(
        rounded,
        values(round_bf16(Tensor::<1>::from_floats(
            plain.as_slice(),
            &device
        )))
    );
    assert_ne!(rounded, plain);
}
