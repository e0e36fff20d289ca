//! LAMB against hand-computed values (ALBERT's rule: no bias correction; LayerNorm and bias
//! parameters without decay and trust ratio), global-norm clipping, and optimiser state that
//! survives a save/load.

use albert_pretrain::{LambConfig, clip_global_norm, global_norm, lamb};
use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
struct Tiny {
    dense: Linear,
    norm: LayerNorm,
}

fn tiny(device: &Device) -> Tiny {
    Tiny {
        dense: Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]),
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                [0.5f32, -0.5],
                device,
            ))),
        },
        norm: LayerNormConfig::new(2).init(device),
    }
}

const W_GRAD: [f32; 4] = [0.1, -0.2, 0.3, 0.4];
const B_GRAD: [f32; 2] = [1.0, -1.0];
const G_GRAD: [f32; 2] = [0.2, 0.2];

/// Gradients as a backward pass gives them: on the inner (non-autodiff) device.
fn grads(m: &Tiny, device: &Device) -> GradientsParams {
    let device = &device.clone().inner();
    let mut g = GradientsParams::new();
    g.register(
        m.dense.weight.id,
        Tensor::<2>::from_data(TensorData::new(W_GRAD.to_vec(), [2, 2]), device),
    );
    g.register(
        m.dense.bias.as_ref().expect("bias").id,
        Tensor::<1>::from_data(B_GRAD, device),
    );
    g.register(m.norm.gamma.id, Tensor::<1>::from_data(G_GRAD, device));
    g
}

fn values<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f64> {
    p.val()
        .try_into_vec_as::<f32>()
        .expect("f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The reference: ALBERT's lamb_optimizer.py in f64.
fn reference(w: &[f64], g: &[f64], steps: usize, lr: f64, decay_and_adapt: bool) -> Vec<f64> {
    let (b1, b2, eps, wd) = (0.9, 0.999, 1e-6, 0.01);
    let mut w = w.to_vec();
    let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
    for _ in 0..steps {
        for i in 0..w.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        }
        let mut u: Vec<f64> = (0..w.len()).map(|i| m[i] / (v[i].sqrt() + eps)).collect();
        let mut ratio = 1.0;
        if decay_and_adapt {
            for i in 0..w.len() {
                u[i] += wd * w[i];
            }
            let wn = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            let un = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            if wn > 0.0 && un > 0.0 {
                ratio = wn / un;
            }
        }
        for i in 0..w.len() {
            w[i] -= lr * ratio * u[i];
        }
    }
    w
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn lamb_matches_albert_rule_by_hand() {
    let device = crate::common::cpu().autodiff();
    let mut model = tiny(&device);
    let mut optim = lamb(LambConfig::default());
    let lr = 0.01;
    for _ in 0..2 {
        let g = grads(&model, &device);
        model = optim.step(lr, model, g);
    }
    let f = |x: &[f32]| x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    close(
        &values(&model.dense.weight),
        &reference(&[1.0, 2.0, 3.0, 4.0], &f(&W_GRAD), 2, lr, true),
        1e-6,
    );
    close(
        &values(model.dense.bias.as_ref().expect("bias")),
        &reference(&[0.5, -0.5], &f(&B_GRAD), 2, lr, false),
        1e-6,
    );
    close(
        &values(&model.norm.gamma),
        &reference(&[1.0, 1.0], &f(&G_GRAD), 2, lr, false),
        1e-6,
    );

    // One step by hand for the bias (excluded: no decay, ratio 1):
    // m = 0.1, v = 0.001, u = 0.1 / (sqrt(0.001) + 1e-6) = 3.1621776..., b = 0.5 - 0.01 u.
    let mut single = tiny(&device);
    let g = grads(&single, &device);
    single = lamb(LambConfig::default()).step(lr, single, g);
    let b = values(single.dense.bias.as_ref().expect("bias"));
    assert!((b[0] - (0.5 - 0.01 * 3.162_177_6)).abs() < 1e-6, "{b:?}");
    // The weight has a trust ratio: its update is rescaled to ||w|| · lr = sqrt(30) · 0.01.
    let delta = values(&single.dense.weight)
        .iter()
        .zip([1.0, 2.0, 3.0, 4.0])
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((delta - 30f64.sqrt() * lr).abs() < 1e-5, "{delta}");
}

#[test]
fn global_norm_clipping_scales_all_gradients_together() {
    let device = crate::common::cpu();
    let model = tiny(&device);
    let mut g = grads(&model, &device);
    let squares: f32 = W_GRAD
        .iter()
        .chain(&B_GRAD)
        .chain(&G_GRAD)
        .map(|x| x * x)
        .sum();
    let norm: f32 = clip_global_norm(&model, &mut g, 1.0)
        .expect("norm")
        .into_scalar();
    assert!((norm - squares.sqrt()).abs() < 1e-6);
    let after: f32 = global_norm(&model, &g).expect("norm").into_scalar();
    assert!((after - 1.0).abs() < 1e-5, "{after}");
    let w: Vec<f32> = g
        .get::<2>(model.dense.weight.id)
        .expect("w")
        .try_into_vec_as()
        .expect("f32");
    assert!((w[1] - W_GRAD[1] / squares.sqrt()).abs() < 1e-6);
    // Below the threshold nothing changes.
    let mut small = grads(&model, &device);
    clip_global_norm(&model, &mut small, 100.0);
    let w: Vec<f32> = small
        .get::<2>(model.dense.weight.id)
        .expect("w")
        .try_into_vec_as()
        .expect("f32");
    assert_eq!(w, W_GRAD.to_vec());
}

#[test]
fn lamb_state_survives_save_and_load() {
    let device = crate::common::cpu().autodiff();
    let dir = tempfile::tempdir().expect("tmp");
    let lr = 0.01;
    // Two steps straight...
    let mut a = tiny(&device);
    let mut oa = lamb(LambConfig::default());
    for _ in 0..2 {
        let g = grads(&a, &device);
        a = oa.step(lr, a, g);
    }
    // ...versus one step, save, reload optimiser, one more step.
    let mut b = tiny(&device);
    let mut ob = lamb(LambConfig::default());
    let g = grads(&b, &device);
    b = ob.step(lr, b, g);
    let path = dir.path().join("optim.bpk");
    ob.save(&path).expect("save optimizer");
    let mut ob = lamb(LambConfig::default())
        .load(&path)
        .expect("load optimizer");
    let g = grads(&b, &device);
    b = ob.step(lr, b, g);
    assert_eq!(values(&a.dense.weight), values(&b.dense.weight));
    assert_eq!(values(&a.norm.gamma), values(&b.norm.gamma));
}
