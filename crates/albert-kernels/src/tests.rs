//! The kernels against burn's composed ops: values and gradients.

use super::*;

mod bf16;

/// The fused masked softmax against burn's `softmax(scores + mask)`: values, and the
/// gradient of the scores, on an autodiff flex device; scores that are a non-contiguous
/// view (a transpose) and a shared buffer (so the in-place path must copy); a per-item
/// mask with padded keys (`f32::MIN`, exactly 0 probability) and a mask shared by every
/// item; a key count that is not a multiple of the lanes.
#[test]
fn fused_masked_softmax_matches_burn_forward_and_backward() {
    use burn::tensor::activation::softmax;
    use burn::tensor::{Distribution, TensorData};

    let device = Device::flex().autodiff();
    let (b, heads, n) = (3, 2, 37);
    let mut mask = vec![0.0f32; b * n];
    for key in 30..n {
        mask[n + key] = f32::MIN; // item 1: the last 7 keys are padding
    }
    mask[2 * n] = f32::MIN; // item 2: the first key
    let per_item = Tensor::<4>::from_data(TensorData::new(mask, [b, 1, 1, n]), &device);
    let shared = Tensor::<4>::from_data(
        TensorData::new((0..n).map(|i| i as f32 * -0.1).collect(), [1, 1, 1, n]),
        &device,
    );
    let base = Tensor::<4>::random([b, heads, n, n], Distribution::Normal(0.0, 3.0), &device);
    let weights = Tensor::<4>::random([b, heads, n, n], Distribution::Uniform(-1.0, 1.0), &device);
    for mask in [per_item, shared] {
        let run = |fused: bool| {
            let x = base.clone().detach().require_grad();
            // A transposed view: non-contiguous input.
            let scores = x.clone().swap_dims(2, 3);
            let keep = scores.clone(); // the buffer is shared: no in-place write allowed
            let y = if fused {
                masked_softmax(scores, mask.clone())
            } else {
                softmax(scores + mask.clone(), 3)
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            (values(y), values(x.grad(&grads).expect("dx")), values(keep))
        };
        let (fused, reference) = (run(true), run(false));
        assert_eq!(fused.2, reference.2, "the input was written to");
        for (what, a, b, tol) in [
            ("y", &fused.0, &reference.0, 1e-6),
            ("dscores", &fused.1, &reference.1, 1e-5),
        ] {
            assert_eq!(a.len(), b.len(), "{what}");
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= tol, "{what}: fused {x} vs burn {y}");
            }
        }
        // Padded keys get exactly 0, and each row sums to 1.
        for row in fused.0.chunks(n) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
    // Item 1's padded keys (scores rows are [item, head, query, key]).
    let y = masked_softmax(
        Tensor::<4>::zeros([b, heads, n, n], &device),
        Tensor::<4>::from_data(
            TensorData::new(
                (0..b * n)
                    .map(|i| {
                        if i / n == 1 && i % n >= 30 {
                            f32::MIN
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                [b, 1, 1, n],
            ),
            &device,
        ),
    )
    .into_data()
    .try_to_vec::<f32>()
    .expect("f32");
    for (r, row) in y.chunks(n).enumerate() {
        let padded = r / (heads * n) == 1;
        for (key, &p) in row.iter().enumerate() {
            let want = if padded && key >= 30 {
                0.0
            } else if padded {
                1.0 / 30.0
            } else {
                1.0 / n as f32
            };
            assert!((p - want).abs() < 1e-7, "row {r} key {key}: {p}");
        }
    }
}

/// The fused linear layer against `x·w + b` with burn's ops: output and the gradients of
/// A hand-computed product, and a multi-threaded one against burn's matmul.
#[test]
fn matmul_rows_multiplies() {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
    let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]; // [3, 2]
    assert_eq!(matmul_rows(&a, &b, 2, 3, 2), vec![58.0, 64.0, 139.0, 154.0]);

    let (m, k, n) = (300, 200, 190);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
    let device = Device::flex();
    let want = Tensor::<2>::from_data(burn::tensor::TensorData::new(a.clone(), [m, k]), &device)
        .matmul(Tensor::<2>::from_data(
            burn::tensor::TensorData::new(b.clone(), [k, n]),
            &device,
        ))
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    // Small integers: every partial sum is exact in f32, so the products agree exactly.
    assert_eq!(matmul_rows(&a, &b, m, k, n), want);
}

/// `x`, `w` and `b` on an autodiff flex device; `x` and `w` contiguous, and both as
/// transposed views of stored `[in, rows]` / `[out, in]` leaves (the tied MLM decoder reads
/// the embedding table transposed); a product large enough for the multi-threaded `gemm`
/// and a small one, each with a narrow output (bias as its initial value) and a wide one
/// (bias as an extra inner dimension, as in the MLM decoder); and the same with a residual
/// added (`linear_residual`, the residual itself a transposed view in the transposed case,
/// its gradient checked too).
#[test]
fn fused_linear_matches_burn_forward_and_backward() {
    use burn::tensor::Distribution;

    let device = Device::flex().autodiff();
    let cases = [(7, 5, 3), (300, 200, 190), (9, 5, 24), (300, 32, 1000)];
    for ((rows, d_in, d_out), transposed, residual) in cases
        .into_iter()
        .flat_map(|c| [(c, false), (c, true)])
        .flat_map(|(c, t)| [(c, t, false), (c, t, true)])
    {
        let (x_shape, w_shape, r_shape) = if transposed {
            ([d_in, rows], [d_out, d_in], [d_out, rows])
        } else {
            ([rows, d_in], [d_in, d_out], [rows, d_out])
        };
        let x0 = Tensor::<2>::random(x_shape, Distribution::Normal(0.0, 1.0), &device);
        let w0 = Tensor::<2>::random(w_shape, Distribution::Normal(0.0, 0.5), &device);
        let b0 = Tensor::<1>::random([d_out], Distribution::Normal(0.0, 0.5), &device);
        let r0 = Tensor::<2>::random(r_shape, Distribution::Normal(0.0, 1.0), &device);
        let weights = Tensor::<2>::random([rows, d_out], Distribution::Uniform(-1.0, 1.0), &device);
        let run = |fused: bool| {
            let leaf = |t: &Tensor<2>| t.clone().detach().require_grad();
            let (x, w, r) = (leaf(&x0), leaf(&w0), leaf(&r0));
            let b = b0.clone().detach().require_grad();
            let view = |t: &Tensor<2>| {
                if transposed {
                    t.clone().transpose()
                } else {
                    t.clone()
                }
            };
            let (xi, wi, ri) = (view(&x), view(&w), view(&r));
            let y = match (fused, residual) {
                (true, false) => linear(xi, wi, b.clone(), Precision::Fp32, Precision::Fp32),
                (true, true) => linear_residual(xi, wi, b.clone(), ri, Precision::Fp32),
                (false, false) => xi.matmul(wi) + b.clone().unsqueeze::<2>(),
                (false, true) => ri + xi.matmul(wi) + b.clone().unsqueeze::<2>(),
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            let dr = if residual {
                values(r.grad(&grads).expect("dr"))
            } else {
                Vec::new()
            };
            (
                values(y),
                values(x.grad(&grads).expect("dx")),
                values(w.grad(&grads).expect("dw")),
                values(b.grad(&grads).expect("db")),
                dr,
            )
        };
        let (f, r) = (run(true), run(false));
        for (what, a, b) in [
            ("y", &f.0, &r.0),
            ("dx", &f.1, &r.1),
            ("dw", &f.2, &r.2),
            ("db", &f.3, &r.3),
            ("dr", &f.4, &r.4),
        ] {
            let case = format!(
                "{what} ({rows}×{d_in}×{d_out}, transposed {transposed}, residual {residual})"
            );
            assert_close(&case, a, b);
        }
    }
}

/// The per-head products against burn's ops on split heads: `attention_scores` and
/// `attention_context` values, and the gradients of `q`, `k`, the probabilities and `v`,
/// for a `[B, n, H]` whose head size is not a multiple of the SIMD width: heads narrower
/// than the sequence (as in every real model) and wider.
#[test]
fn head_products_match_burn_forward_and_backward() {
    let device = Device::flex().autodiff();
    for (b, n, heads, d) in [(3, 37, 4, 6), (2, 5, 3, 9)] {
        head_products_case(&device, b, n, heads, d);
    }
}

fn head_products_case(device: &Device, b: usize, n: usize, heads: usize, d: usize) {
    use burn::tensor::Distribution;

    let h = heads * d;
    let normal =
        |shape: [usize; 3]| Tensor::<3>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let (q0, k0, v0) = (normal([b, n, h]), normal([b, n, h]), normal([b, n, h]));
    let p0 = Tensor::<4>::random([b, heads, n, n], Distribution::Uniform(0.0, 1.0), device);
    let w_s = Tensor::<4>::random([b, heads, n, n], Distribution::Normal(0.0, 1.0), device);
    let w_c = normal([b, n, h]);
    let split = |t: Tensor<3>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
    let scale = 0.3;

    let scores = |fused: bool| {
        let (q, k) = (q0.clone().require_grad(), k0.clone().require_grad());
        let s = if fused {
            attention_scores(q.clone(), k.clone(), heads, scale)
        } else {
            split(q.clone()).matmul(split(k.clone()).swap_dims(2, 3)) * scale
        };
        let grads = (s.clone() * w_s.clone()).sum().backward();
        (
            values(s),
            values(q.grad(&grads).expect("dq")),
            values(k.grad(&grads).expect("dk")),
        )
    };
    let (f, r) = (scores(true), scores(false));
    assert_close("scores", &f.0, &r.0);
    assert_close("dq", &f.1, &r.1);
    assert_close("dk", &f.2, &r.2);

    // With `round`, the reference rounds the probabilities through burn's cast to bf16 and
    // back: the kernel's in-block rounding must give the same product and `v` gradient. The
    // probabilities' gradient `dC·vᵀ` does not depend on them and passes the rounding
    // unchanged (burn's cast would round it to bf16 on the way back), so it is the unrounded
    // reference's.
    let context = |fused: bool, round: bool| {
        let (p, v) = (p0.clone().require_grad(), v0.clone().require_grad());
        let c = if fused {
            let precision = if round {
                albert_core::precision::Precision::Bf16
            } else {
                albert_core::precision::Precision::Fp32
            };
            attention_context(p.clone(), v.clone(), heads, precision)
        } else {
            let pr = if round {
                p.clone()
                    .cast(burn::tensor::FloatDType::BF16)
                    .cast(burn::tensor::FloatDType::F32)
            } else {
                p.clone()
            };
            pr.matmul(split(v.clone()))
                .swap_dims(1, 2)
                .reshape([b, n, h])
        };
        let grads = (c.clone() * w_c.clone()).sum().backward();
        (
            values(c),
            values(p.grad(&grads).expect("dp")),
            values(v.grad(&grads).expect("dv")),
        )
    };
    let unrounded = context(false, false);
    for round in [false, true] {
        let (f, r) = (context(true, round), context(false, round));
        if round {
            // The kernel also writes the context rounded: within one bfloat16 rounding.
            for (x, y) in f.0.iter().zip(&r.0) {
                assert!(
                    (x - y).abs() <= y.abs() / 256.0 + 1e-4,
                    "context: {x} vs {y}"
                );
                assert_eq!(albert_core::precision::round_bf16(*x), *x);
            }
        } else {
            assert_close("context", &f.0, &r.0);
        }
        assert_close(&format!("dprobs, round {round}"), &f.1, &unrounded.1);
        assert_close(&format!("dv, round {round}"), &f.2, &r.2);
    }
    // The rounding is real: uniform probabilities are rarely bfloat16 values.
    let (rounded, exact) = (context(true, true), context(true, false));
    assert!(rounded.0.iter().zip(&exact.0).any(|(a, b)| a != b));
}

/// `a` equals the reference `r` element-wise within `1e-4 · (1 + |r|)`, same length.
fn assert_close(what: &str, a: &[f32], r: &[f32]) {
    assert_eq!(a.len(), r.len(), "{what}");
    for (x, y) in a.iter().zip(r) {
        assert!(
            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
            "{what}: {x} vs {y}"
        );
    }
}

/// The fused GELU, through albert-core's `ops` with the kernels installed, against the composed
/// ops: values and input gradients, on an autodiff flex device, over a non-contiguous
/// (transposed) input.
#[test]
fn fused_gelu_matches_composed_forward_and_backward() {
    use albert_core::ops::{gelu_tanh, gelu_tanh_composed};
    use burn::tensor::Distribution;
    assert!(install());
    let device = Device::flex().autodiff();
    assert!(on_flex(&device));
    let base = Tensor::<2>::random([48, 700], Distribution::Normal(0.0, 3.0), &device);
    let weights = Tensor::<2>::random([700, 48], Distribution::Uniform(-1.0, 1.0), &device);
    let run = |fused: bool| {
        let x = base.clone().detach().require_grad();
        let xt = x.clone().transpose();
        let y = if fused {
            gelu_tanh(xt)
        } else {
            gelu_tanh_composed(xt)
        };
        let grads = (y.clone() * weights.clone()).sum().backward();
        let g = x.grad(&grads).expect("grad");
        (values(y), values(g))
    };
    let (y_fused, g_fused) = run(true);
    let (y_ref, g_ref) = run(false);
    for (a, b) in y_fused.iter().zip(&y_ref).chain(g_fused.iter().zip(&g_ref)) {
        assert!(
            (a - b).abs() <= 2e-6 * (1.0 + b.abs()),
            "fused {a} vs composed {b}"
        );
    }
    assert_eq!(y_fused.len(), 48 * 700);
}

/// The fused log-softmax, through albert-core's `ops` with the kernels installed, against
/// burn's `log_softmax(x, 1)`: values and input gradients on an autodiff flex device, over a
/// non-contiguous (transposed) input whose buffer is shared, 1003 classes (not a multiple of
/// the lanes) and logits up to ±90 (the maximum must be subtracted first); a hand-computed row;
/// and `cross_entropy` on top of it.
#[test]
fn fused_log_softmax_matches_burn_forward_and_backward() {
    use albert_core::loss::{IGNORE_INDEX, cross_entropy};
    use albert_core::ops::log_softmax;
    use burn::tensor::{Distribution, Int, TensorData};
    assert!(install());
    let device = Device::flex().autodiff();
    let (rows, classes) = (37, 1003);
    let base = Tensor::<2>::random([classes, rows], Distribution::Normal(0.0, 30.0), &device);
    let weights = Tensor::<2>::random([rows, classes], Distribution::Uniform(-1.0, 1.0), &device);
    let run = |fused: bool| {
        let x = base.clone().detach().require_grad();
        let xt = x.clone().transpose();
        let keep = xt.clone();
        let y = if fused {
            log_softmax(xt)
        } else {
            burn::tensor::activation::log_softmax(xt, 1)
        };
        let grads = (y.clone() * weights.clone()).sum().backward();
        (values(y), values(x.grad(&grads).expect("dx")), values(keep))
    };
    let (fused, reference) = (run(true), run(false));
    assert_eq!(fused.2, reference.2, "the input was written to");
    assert_close("log_softmax", &fused.0, &reference.0);
    assert_close("its gradient", &fused.1, &reference.1);

    // [0, ln 3]: log(1/4), log(3/4).
    let row = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2]), &device);
    let got = values(log_softmax(row));
    for (g, want) in got.iter().zip([0.25f32.ln(), 0.75f32.ln()]) {
        assert!((g - want).abs() < 1e-6, "{got:?}");
    }

    // The loss and its gradient, with an ignored row.
    let labels: Vec<i64> = (0..rows as i64)
        .map(|r| {
            if r == 5 {
                IGNORE_INDEX
            } else {
                r * 7 % classes as i64
            }
        })
        .collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [rows]), &device);
    let loss = |fused: bool| {
        let x = base.clone().detach().require_grad();
        let logits = x.clone().transpose();
        let loss = if fused {
            cross_entropy(logits, labels.clone(), IGNORE_INDEX)
        } else {
            let [n, _] = logits.dims();
            let ignored = labels.clone().equal_elem(IGNORE_INDEX);
            let safe = labels.clone().mask_fill(ignored.clone(), 0).reshape([n, 1]);
            let picked = burn::tensor::activation::log_softmax(logits, 1)
                .gather(1, safe)
                .reshape([n]);
            let keep = ignored.bool_not().float();
            -(picked * keep.clone()).sum() / keep.sum()
        };
        let grads = loss.clone().backward();
        (values(loss), values(x.grad(&grads).expect("dx")))
    };
    let (fused, reference) = (loss(true), loss(false));
    assert_close("cross-entropy", &fused.0, &reference.0);
    assert_close("its gradient", &fused.1, &reference.1);
}

/// The fused LayerNorm, through albert-core's `ops` with the kernels installed, against burn's
/// module: output and the gradients of the input, `γ` and `β`, on an autodiff flex device with a
/// non-contiguous input and non-trivial `γ`, `β`.
#[test]
fn fused_layer_norm_matches_burn_forward_and_backward() {
    use albert_core::init::layer_norm as new_layer_norm;
    use burn::tensor::Distribution;
    assert!(install());
    let device = Device::flex().autodiff();
    let (rows, h, eps) = (300, 96, 1e-12);
    let mut ln = new_layer_norm(h, eps, &device);
    ln.gamma = ln
        .gamma
        .map(|_| Tensor::random([h], Distribution::Uniform(0.5, 1.5), &device).require_grad());
    ln.beta = ln.beta.map(|b| {
        b.map(|_| Tensor::random([h], Distribution::Normal(0.0, 0.3), &device).require_grad())
    });
    let base = Tensor::<2>::random([h, rows], Distribution::Normal(1.0, 2.0), &device);
    let weights = Tensor::<2>::random([rows, h], Distribution::Uniform(-1.0, 1.0), &device);
    let run = |fused: bool| {
        let x = base.clone().detach().require_grad();
        let xt = x.clone().transpose();
        let y = if fused {
            albert_core::ops::layer_norm(&ln, eps, xt)
        } else {
            ln.forward(xt)
        };
        let grads = (y.clone() * weights.clone()).sum().backward();
        let beta = ln.beta.as_ref().expect("beta").val();
        (
            values(y),
            values(x.grad(&grads).expect("dx")),
            values(ln.gamma.val().grad(&grads).expect("dgamma")),
            values(beta.grad(&grads).expect("dbeta")),
        )
    };
    let (fused, reference) = (run(true), run(false));
    let close = |what: &str, a: &[f32], b: &[f32], tol: f32| {
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}: fused {x} vs burn {y}"
            );
        }
    };
    close("y", &fused.0, &reference.0, 1e-5);
    close("dx", &fused.1, &reference.1, 1e-4);
    close("dgamma", &fused.2, &reference.2, 1e-4);
    close("dbeta", &fused.3, &reference.3, 1e-4);
    assert_eq!(fused.2.len(), h);
}

/// albert-core's `ops::linear_rows_residual` takes the residual kernel only when the dropout
/// is the identity: on flex's autodiff device with p = 0.9 in training most outputs are the
/// residual alone (the dropped product adds exactly 0); with p = 0 the fused result equals
/// `residual + linear(x)`.
#[test]
fn residual_kernel_keeps_an_active_dropout() {
    use albert_core::ops::{Operand, linear_rows, linear_rows_residual};
    use burn::nn::{DropoutConfig, LinearConfig};
    use burn::tensor::Distribution;
    assert!(install());
    let device = Device::flex().autodiff();
    let linear = LinearConfig::new(8, 8).init(&device);
    let x = Tensor::<3>::random([2, 16, 8], Distribution::Normal(0.0, 1.0), &device);
    let r = Tensor::<3>::random([2, 16, 8], Distribution::Normal(0.0, 1.0), &device);

    let dropout = DropoutConfig::new(0.9).init();
    let dropped = values(linear_rows_residual(
        &linear,
        &dropout,
        Operand::new(x.clone()),
        r.clone(),
    ));
    let residual = values(r.clone());
    let kept = dropped
        .iter()
        .zip(&residual)
        .filter(|(y, r)| y == r)
        .count();
    assert!(
        kept > 150,
        "{kept} of 256 outputs are the residual alone (p = 0.9)"
    );

    let dropout = DropoutConfig::new(0.0).init();
    let fused = values(linear_rows_residual(
        &linear,
        &dropout,
        Operand::new(x.clone()),
        r.clone(),
    ));
    let want = values(r + linear_rows(&linear, x));
    for (a, b) in fused.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

/// albert-core's `ops::attention` with the kernels installed — the inference kernel (no
/// autodiff, no probabilities) and the training kernels (scores, masked softmax, context) —
/// against the formula written out with burn's ops on split heads, padded keys included, a
/// head size whose square root is not a power of two.
#[test]
fn attention_kernels_match_the_formula() {
    use albert_core::ops::{Operand, attention};
    use burn::nn::DropoutConfig;
    use burn::tensor::activation::softmax;
    use burn::tensor::{Distribution, TensorData};
    assert!(install());
    let (b, n, heads, d) = (2, 5, 4, 8);
    let h = heads * d;
    for device in [Device::flex(), Device::flex().autodiff()] {
        let normal = || Tensor::<3>::random([b, n, h], Distribution::Normal(0.0, 1.0), &device);
        let (q, k, v) = (normal(), normal(), normal());
        // Second sequence: its last two keys are padding.
        let mut mask = vec![0.0f32; b * n];
        mask[2 * n - 2..].fill(f32::MIN);
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [b, 1, 1, n]), &device);

        let split = |t: Tensor<3>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
        let scores = split(q.clone()).matmul(split(k.clone()).swap_dims(2, 3)) / (d as f64).sqrt();
        let want_probs = softmax(scores + mask.clone(), 3);
        let want = want_probs
            .clone()
            .matmul(split(v.clone()))
            .swap_dims(1, 2)
            .reshape([b, n, h]);
        let (want, want_probs) = (values(want), values(want_probs));

        let dropout = DropoutConfig::new(0.0).init();
        for return_probs in [false, true] {
            let (context, probs) = attention(
                Operand::new(q.clone()),
                Operand::new(k.clone()),
                Operand::new(v.clone()),
                mask.clone(),
                heads,
                &dropout,
                return_probs,
            );
            assert_eq!(probs.is_some(), return_probs);
            assert_close("context", &values(context.into_tensor()), &want);
            if let Some(p) = probs {
                let p = values(p);
                assert_close("probabilities", &p, &want_probs);
                // Padded keys get exactly 0.
                assert!(
                    p[heads * n * n..]
                        .chunks(n)
                        .all(|row| row[n - 2..] == [0.0, 0.0])
                );
            }
        }
    }
}

/// A tensor's values as `f32`.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32")
}
