//! Picking the burn device from `--device`: the backends compiled into this binary are chosen
//! by cargo features (`flex` default, `wgpu`, `cuda`, `remote`), the device at run time.

use albert_core::precision::Precision;
use burn::tensor::Device;

use crate::error::{Result, RunnerError};

/// The `--device` values.
pub const DEVICE_NAMES: [&str; 4] = ["cpu", "wgpu", "cuda", "remote:ws://HOST:PORT"];

/// The environment variable holding the token a remote server's `--token` asks for.
pub const REMOTE_TOKEN_ENV: &str = "ALBERT_REMOTE_TOKEN";

/// The parser of every `--precision` option: `fp32`, `bf16` or `fp16` (listed in `--help`).
pub fn precision_parser() -> impl clap::builder::TypedValueParser<Value = Precision> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Precision::ALL.map(Precision::name))
        .map(|s| s.parse::<Precision>().expect("a listed precision"))
}

/// `--device` and `--precision`, shared by every command that runs the model.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// cpu (flex), wgpu[:N] or cuda[:N] (remote:ws://HOST:PORT with the `remote` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the matrix products: fp32, bf16 or fp16 (bf16/half operands, f32
    /// accumulation; LayerNorm, softmax, GELU and the weights stay f32), or int8 for inference
    /// on the CPU (the linear layers dynamically quantised to int8).
    #[arg(long, default_value = "fp32", value_parser = precision_parser())]
    pub precision: Precision,
}

/// Whether `device` can run the model's products in `precision`: bf16 and fp16 need the
/// installed CPU kernels (which round to them themselves) or a backend that supports the dtype
/// for the cast and the products (bf16: CUDA, not wgpu; fp16: CUDA, wgpu where the adapter has
/// `shader-f16`); int8 needs the CPU kernels.
pub fn check_precision(device: &Device, name: &str, precision: Precision) -> Result<()> {
    let kernels = albert_core::ops::installed_kernels().is_some_and(|k| k.supports(device));
    let (dtype, what, other) = match precision {
        Precision::Fp32 => return Ok(()),
        Precision::Int8 if kernels => return Ok(()),
        Precision::Int8 => {
            return Err(RunnerError::Device(format!(
                "--device {name}: --precision int8 (dynamic int8 quantisation) runs on the CPU \
                 kernels only; use --device cpu, or --precision fp32, bf16 or fp16 here"
            )));
        }
        Precision::Bf16 => (burn::tensor::DType::BF16, "bfloat16", "fp16"),
        Precision::Fp16 => (burn::tensor::DType::F16, "float16", "bf16"),
    };
    if kernels || device.supports_dtype(dtype) {
        Ok(())
    } else {
        Err(RunnerError::Device(format!(
            "--device {name}: the backend has no {what} support on this device, so \
             --precision {precision} cannot run there; use --precision fp32, {other} if the \
             device has it, or --device cpu"
        )))
    }
}

/// The backends this binary was built with, by `--device` name.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "flex") {
        v.push("cpu");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "remote") {
        v.push("remote");
    }
    v
}

/// The error for `what` (`--device cuda`, `albert device-server`) needing a cargo `feature` this binary
/// was built without.
pub(crate) fn not_built(what: &str, feature: &str) -> RunnerError {
    RunnerError::Usage(format!(
        "{what}: this albert binary was built without the `{feature}` feature \
         (built with: {}); rebuild with `--features {feature}`",
        compiled_backends().join(", ")
    ))
}

/// The device for a `--device` name: `cpu` (burn's `flex` backend), `wgpu` (the default
/// adapter), `wgpu:N` (the N-th discrete GPU), `cuda` or `cuda:N`, or `remote:ws://HOST:PORT`
/// (device 0 of the `albert device-server` server there; `remote:ws://HOST:PORT#N` for its N-th).
/// A remote device is connected here, so an unreachable server is an error now, not later.
pub fn device(name: &str) -> Result<Device> {
    if name.starts_with("remote:") {
        return remote_device(name, std::env::var(REMOTE_TOKEN_ENV).ok().as_deref());
    }
    let (kind, index) = match name.split_once(':') {
        Some((k, i)) => {
            let index = i.parse::<usize>().map_err(|_| {
                RunnerError::Usage(format!(
                    "--device {name:?}: the index after `:` must be a number"
                ))
            })?;
            (k, Some(index))
        }
        None => (name, None),
    };
    match (kind, index) {
        ("cpu", None) => {
            #[cfg(feature = "flex")]
            return Ok(cpu());
            #[cfg(not(feature = "flex"))]
            return Err(not_built(&format!("--device {name}"), "flex"));
        }
        ("wgpu", _) => {
            #[cfg(feature = "wgpu")]
            return Ok(Device::wgpu(index.map_or(
                burn::tensor::DeviceKind::DefaultDevice,
                burn::tensor::DeviceKind::DiscreteGpu,
            )));
            #[cfg(not(feature = "wgpu"))]
            return Err(not_built(&format!("--device {name}"), "wgpu"));
        }
        ("cuda", _) => {
            #[cfg(feature = "cuda")]
            return Ok(Device::cuda(index.unwrap_or(0)));
            #[cfg(not(feature = "cuda"))]
            return Err(not_built(&format!("--device {name}"), "cuda"));
        }
        _ => Err(RunnerError::Usage(format!(
            "unknown --device {name:?} (expected one of: {}, optionally `wgpu:N` / `cuda:N`)",
            DEVICE_NAMES.join(", ")
        ))),
    }
}

/// burn's flex CPU device, with albert-kernels' fused kernels installed for it (the models on
/// it run through them; `ALBERT_FLEX_KERNELS=0` turns them off).
#[cfg(feature = "flex")]
pub fn cpu() -> Device {
    albert_kernels::install();
    Device::flex()
}

/// Connects the device `name` = `remote:ws://HOST:PORT` (optionally `#N` for the server's N-th
/// device), presenting `token` (what [`device`] reads from [`REMOTE_TOKEN_ENV`]) if given.
#[cfg(feature = "remote")]
pub fn remote_device(name: &str, token: Option<&str>) -> Result<Device> {
    use burn::remote::RemoteHost;
    let url = name.strip_prefix("remote:").ok_or_else(|| {
        RunnerError::Usage(format!(
            "--device {name:?}: expected `remote:ws://HOST:PORT`"
        ))
    })?;
    let (url, index) = match url.rsplit_once('#') {
        Some((u, i)) => (
            u,
            i.parse::<usize>().map_err(|_| {
                RunnerError::Usage(format!(
                    "--device {name:?}: the device index after `#` must be a number"
                ))
            })?,
        ),
        None => (url, 0),
    };
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(RunnerError::Usage(format!(
            "--device {name:?}: expected `remote:ws://HOST:PORT` (the address `albert device-server` \
             listens on)"
        )));
    }
    let mut host = RemoteHost::websocket(url);
    if let Some(token) = token {
        host = host.with_credential(token);
    }
    Device::remote_options(&host)
        .device_index(index)
        .init()
        .map_err(|e| RunnerError::Usage(format!("--device {name}: cannot connect: {e}")))
}

/// Without the `remote` feature: the error saying how to rebuild.
#[cfg(not(feature = "remote"))]
pub fn remote_device(name: &str, _token: Option<&str>) -> Result<Device> {
    Err(not_built(&format!("--device {name}"), "remote"))
}

/// The devices of a comma-separated list (`cuda:0,cuda:1`): data-parallel replicas, the first
/// holding the model and optimiser. Every device is probed.
pub fn devices(spec: &str) -> Result<Vec<Device>> {
    spec.split(',')
        .map(str::trim)
        .map(|name| {
            let d = device(name)?;
            probe(&d, name)?;
            Ok(d)
        })
        .collect()
}

/// Runs a tiny computation on `device` to turn "no adapter / no driver" into an error instead of
/// a panic deep inside the first real operation; also checks that the device can run this
/// thread's product precision ([`check_precision`]).
pub fn probe(device: &Device, name: &str) -> Result<()> {
    check_precision(device, name, albert_core::precision::current())?;
    let device = device.clone();
    let outcome = std::panic::catch_unwind(move || {
        let t = burn::tensor::Tensor::<1>::from_data([1.0f32, 2.0], &device);
        t.sum().into_scalar::<f32>()
    });
    match outcome {
        Ok(v) if (v - 3.0).abs() < 1e-6 => Ok(()),
        Ok(v) => Err(RunnerError::Device(format!(
            "--device {name}: self-test computed {v}, expected 3"
        ))),
        Err(_) => Err(RunnerError::Device(format!(
            "--device {name}: the backend could not start (no usable adapter or driver?)"
        ))),
    }
}
