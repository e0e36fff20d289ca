//! The bf16 and fp16 kernels against burn's cast and the float32 kernels: the rounding, bf16
//! operands of a product, and the outputs a kernel hands on rounded.

use albert_core::precision::Precision;

use super::*;

/// The half precisions, with burn's dtype for each.
const HALVES: [(Precision, burn::tensor::FloatDType); 2] = [
    (Precision::Bf16, burn::tensor::FloatDType::BF16),
    (Precision::Fp16, burn::tensor::FloatDType::F16),
];

/// `xs` rounded to `precision` by burn's cast there and back (flex's conversion, `half`'s
/// round-to-nearest-even): the reference for the kernels' rounding.
fn cast_round(xs: &[f32], precision: Precision) -> Vec<f32> {
    let dtype = HALVES
        .iter()
        .find(|(p, _)| *p == precision)
        .expect("half")
        .1;
    let t = Tensor::<1>::from_floats(xs, &Device::flex());
    values(t.cast(dtype).cast(burn::tensor::FloatDType::F32))
}

/// The fused rounding to bf16 and to fp16 against burn's cast there and back, bit for bit, on
/// a non-contiguous view and on values that tie, overflow, underflow and are not finite; its
/// gradient is the incoming gradient unchanged.
#[test]
fn rounding_matches_the_cast_and_passes_the_gradient() {
    use burn::tensor::{Distribution, FloatDType, TensorData};

    let device = Device::flex().autodiff();
    let mut special = vec![
        1.0 + 1.0 / 256.0,  // a bf16 tie: to even (1.0)
        1.0 + 3.0 / 256.0,  // a bf16 tie: to even (up)
        f32::MAX,           // past the largest: infinity
        1.0 + 1.0 / 2048.0, // a half tie: to even (1.0)
        65520.0,            // half: halfway to 2¹⁶, infinity
        6.0e-5,             // a half subnormal
        2.980_232_2e-8,     // half: halfway to the smallest subnormal, to 0
        f32::INFINITY,
        -f32::INFINITY,
        -0.0,
        1e-40,
        3.0e38,
    ];
    special.resize(5 * 7, 0.5);
    let fixed = Tensor::<2>::from_data(TensorData::new(special, [5, 7]), &device);
    let random = Tensor::<2>::random([7, 5], Distribution::Normal(0.0, 40.0), &device);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (precision, dtype) in HALVES {
        for x in [fixed.clone(), random.clone().swap_dims(0, 1)] {
            let fused = values(round(x.clone(), precision));
            let cast = values(x.cast(dtype).cast(FloatDType::F32));
            assert_eq!(bits(&fused), bits(&cast), "{precision}");
        }
        let x = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let w = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &device);
        let grads = (round(x.clone(), precision) * w.clone()).sum().backward();
        assert_eq!(
            values(x.grad(&grads).expect("dx")),
            values(w),
            "{precision}"
        );
    }
    assert_eq!(
        values(round_bf16(fixed.clone()))[..5],
        [1.0, 1.0 + 4.0 / 256.0, f32::INFINITY, 1.0, 65536.0]
    );
    assert_eq!(
        values(round(fixed.clone(), Precision::Fp16))[..7],
        [
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 256.0,
            f32::INFINITY,
            1.0,
            f32::INFINITY,
            1007.0 * 2f32.powi(-24), // 6.0e-5 = 1006.63 · 2⁻²⁴
            0.0
        ]
    );
    assert_eq!(values(round(fixed.clone(), Precision::Fp32)), values(fixed));
}

/// Under `autocast(Bf16)` (and `Fp16`) the model's products take rounded operands:
/// `ops::affine` through the kernels equals the f32 kernel on operands rounded first, and
/// differs from the f32 product (so the precision is not ignored); outside the guard it is the
/// f32 product again.
#[test]
fn affine_in_half_precision_rounds_its_operands() {
    use albert_core::ops;
    use albert_core::precision::autocast;
    use burn::tensor::Distribution;

    crate::install();
    let device = Device::flex();
    let x = Tensor::<2>::random([9, 33], Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<2>::random([33, 17], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<1>::random([17], Distribution::Normal(0.0, 1.0), &device);
    let f32_product = values(ops::affine(x.clone(), w.clone(), b.clone()));
    // 33 products of N(0,1) values: errors of order 2⁻ᵖ·√33·|x||w| for p mantissa bits.
    for (half, bits) in [(Precision::Bf16, 8), (Precision::Fp16, 11)] {
        let rounded = values(linear(
            round(x.clone(), half),
            round(w.clone(), half),
            b.clone(),
            half,
            Precision::Fp32,
        ));
        let product = {
            let _half = autocast(half);
            values(ops::affine(x.clone(), w.clone(), b.clone()))
        };
        assert_eq!(product, rounded, "{half}");
        let largest = product
            .iter()
            .zip(&f32_product)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let scale = 2f32.powi(-bits) * 33f32.sqrt();
        assert!(
            largest > scale / 100.0 && largest < scale * 30.0,
            "{half} vs f32: {largest} (unit {scale})"
        );
    }
    assert_eq!(values(ops::affine(x, w, b)), f32_product);
}

/// The kernels that hand their output on as a bf16 or fp16 operand write exactly the bfloat16
/// (half) rounding of their float32 output — the linear layer, GELU, the training
/// context and the inference attention — and pass the gradient through that rounding: the
/// input gradients equal the unrounded kernel's bit for bit (for the context, whose
/// probabilities it also rounds, against the rounded-probabilities product).
#[test]
fn kernels_round_the_outputs_they_hand_on() {
    let device = Device::flex().autodiff();
    for (half, _) in HALVES {
        outputs_rounded_to(half, &device);
    }
}

/// [`kernels_round_the_outputs_they_hand_on`] for one half precision.
fn outputs_rounded_to(half: Precision, device: &Device) {
    use burn::tensor::{Distribution, TensorData};

    let normal = |shape: [usize; 2]| {
        Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), device)
            .detach()
            .require_grad()
    };
    let rounded_to = |xs: &[f32]| cast_round(xs, half);
    let precision = |round: bool| if round { half } else { Precision::Fp32 };
    // One thread's product, and one large enough to be split into row blocks across threads.
    for (rows, inner, out) in [(37, 19, 23), (301, 64, 400)] {
        let (x, w) = (normal([rows, inner]), normal([inner, out]));
        let b = Tensor::<1>::random([out], Distribution::Normal(0.0, 1.0), device);
        let g = Tensor::<2>::random([rows, out], Distribution::Normal(0.0, 1.0), device);
        let run = |round: bool| {
            let y = linear(
                x.clone(),
                w.clone(),
                b.clone(),
                Precision::Fp32,
                precision(round),
            );
            let grads = (y.clone() * g.clone()).sum().backward();
            (
                values(y),
                values(x.grad(&grads).unwrap()),
                values(w.grad(&grads).unwrap()),
            )
        };
        let (rounded, plain) = (run(true), run(false));
        assert_eq!(rounded.0, rounded_to(&plain.0), "{rows}×{inner}×{out}");
        assert_ne!(rounded.0, plain.0);
        assert_eq!((rounded.1, rounded.2), (plain.1, plain.2));
    }
    let x = normal([37, 19]);

    let gelu = |round: bool| {
        let y = gelu_tanh(x.clone(), precision(round));
        let grads = (y.clone() * x.clone().detach()).sum().backward();
        (values(y), values(x.grad(&grads).unwrap()))
    };
    let (rounded, plain) = (gelu(true), gelu(false));
    assert_eq!(rounded.0, rounded_to(&plain.0));
    assert_eq!(rounded.1, plain.1);

    // The context: its f32 output from rounded probabilities, rounded.
    let (bsz, n, heads, d) = (2, 7, 3, 5);
    let p = Tensor::<4>::random([bsz, heads, n, n], Distribution::Uniform(0.0, 1.0), device);
    let v = Tensor::<3>::random([bsz, n, heads * d], Distribution::Normal(0.0, 1.0), device);
    let half_context = values(attention_context(p.clone(), v.clone(), heads, half));
    let f32_context = values(attention_context(
        round(p.clone(), half),
        v.clone(),
        heads,
        Precision::Fp32,
    ));
    assert_eq!(half_context, rounded_to(&f32_context));

    // Inference attention (no autodiff): its float32 context, rounded.
    let device = &Device::flex();
    let qkv = || Tensor::<3>::random([bsz, n, heads * d], Distribution::Normal(0.0, 1.0), device);
    let (q, k, v) = (qkv(), qkv(), qkv());
    let mask = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32; bsz * n], [bsz, 1, 1, n]),
        device,
    );
    let rounded = values(attention_rows(
        q.clone(),
        k.clone(),
        v.clone(),
        mask.clone(),
        heads,
        half,
    ));
    let plain = values(attention_rows(q, k, v, mask, heads, Precision::Fp32));
    assert_eq!(rounded, rounded_to(&plain));
    assert_ne!(rounded, plain);
}

/// The inference LayerNorm that also writes its output as a product's operand
/// (`ops::layer_norm_operand` with the kernels installed): its float32 values match burn's
/// LayerNorm module (within float32 rounding: the kernel computes the statistics its own way),
/// and its operand is exactly their bf16 / half rounding; in float32 the operand is the output.
/// On an autodiff device it takes the LayerNorm and the rounding with their gradients.
#[test]
fn layer_norm_hands_on_its_rounded_output() {
    use albert_core::init::layer_norm as new_layer_norm;
    use albert_core::ops;
    use albert_core::precision::autocast;
    use burn::tensor::Distribution;
    assert!(install());
    let (b, n, h, eps) = (3, 41, 96, 1e-12);
    for device in [Device::flex(), Device::flex().autodiff()] {
        let mut ln = new_layer_norm(h, eps, &device);
        ln.gamma = ln
            .gamma
            .map(|_| Tensor::random([h], Distribution::Uniform(0.5, 1.5), &device));
        ln.beta = ln
            .beta
            .map(|b| b.map(|_| Tensor::random([h], Distribution::Normal(0.0, 0.3), &device)));
        let x = Tensor::<3>::random([b, n, h], Distribution::Normal(1.0, 2.0), &device);
        let reference = values(ln.forward(x.clone()));
        for precision in [Precision::Fp32, Precision::Bf16, Precision::Fp16] {
            let _scope = autocast(precision);
            let (y, rows) = ops::layer_norm_operand(&ln, eps, x.clone());
            assert_eq!(rows.dims(), [b * n, h]);
            let (y, rows) = (values(y), values(rows.into_tensor()));
            assert_close("layer_norm_operand values", &y, &reference);
            if precision == Precision::Fp32 {
                assert_eq!(rows, y);
            } else {
                assert_eq!(rows, cast_round(&y, precision), "{precision:?}");
                assert_ne!(rows, y);
            }
        }
        if !device.is_autodiff() {
            // The kernel's own entry point in a precision that rounds nothing: both outputs
            // the LayerNorm.
            let beta = ln.beta.as_ref().expect("beta").val();
            let flat = x.clone().reshape([b * n, h]);
            let (y, rows) = layer_norm_operand(flat, ln.gamma.val(), beta, eps, Precision::Int8);
            assert_eq!(values(y.clone()), values(rows));
            assert_close("layer_norm_operand int8", &values(y), &reference);
        }
    }
}

/// A weight rounded for inference (`round_weight`, what `ops` asks for on a device without
/// autodiff) is rounded once while the weight lives: the second call returns the same rounded
/// storage, a view of the weight (the tied decoder's transpose) its own rounding, and every
/// result equals burn's cast there and back.
#[test]
fn inference_weights_are_rounded_once() {
    use burn::tensor::TensorData;
    use burn_flex::FlexTensor;
    let xs: Vec<f32> = (0..35).map(|i| 1.0 + i as f32 / 1000.0).collect();
    let w = FlexTensor::from_data(TensorData::new(xs.clone(), [5, 7]));
    for (half, _) in HALVES {
        let first = crate::flex::rounded_weight(&w, half);
        let again = crate::flex::rounded_weight(&w, half);
        assert!(std::sync::Arc::ptr_eq(&first.data_arc(), &again.data_arc()));
        let got: Vec<f32> = first.storage::<f32>().to_vec();
        assert_eq!(got, cast_round(&xs, half));
        let t = crate::flex::rounded_weight(&w.transpose(0, 1), half);
        assert!(!std::sync::Arc::ptr_eq(&first.data_arc(), &t.data_arc()));
        assert_eq!(t.layout().shape().dims::<2>(), [7, 5]);
    }
    // Through the tensor API (the path `ops` takes), the same values.
    let device = Device::flex();
    let tw = Tensor::<2>::from_data(TensorData::new(xs.clone(), [5, 7]), &device);
    assert_eq!(
        values(round_weight(tw, Precision::Bf16)),
        cast_round(&xs, Precision::Bf16)
    );
}

/// `linear3` (the Q/K/V projections in one pass over the rows, for inference) equals three
/// `linear` calls bit for bit in every precision — float32, the bf16 / fp16 rounding of its
/// outputs, int8 (the input quantised once for the three) — for one task's rows and for rows
/// split across threads.
#[test]
fn linear3_equals_three_linear_layers() {
    use burn::tensor::Distribution;
    let device = Device::flex();
    for (rows, inner, out) in [(37, 19, 23), (301, 64, 400)] {
        let x = Tensor::<2>::random([rows, inner], Distribution::Normal(0.0, 1.0), &device);
        let w: [Tensor<2>; 3] = std::array::from_fn(|_| {
            Tensor::random([inner, out], Distribution::Normal(0.0, 0.5), &device)
        });
        let b: [Tensor<1>; 3] =
            std::array::from_fn(|_| Tensor::random([out], Distribution::Normal(0.0, 1.0), &device));
        for precision in [
            Precision::Fp32,
            Precision::Bf16,
            Precision::Fp16,
            Precision::Int8,
        ] {
            // The operands as the model hands them: rounded under bf16 / fp16.
            let xr = round(x.clone(), precision);
            let wr = w.clone().map(|w| round(w, precision));
            let three = linear3(xr.clone(), wr.clone(), b.clone(), precision, precision);
            for j in 0..3 {
                let one = linear(
                    xr.clone(),
                    wr[j].clone(),
                    b[j].clone(),
                    precision,
                    precision,
                );
                assert_eq!(
                    values(three[j].clone()),
                    values(one),
                    "{precision:?} layer {j}, {rows}×{inner}×{out}"
                );
            }
        }
    }
}
