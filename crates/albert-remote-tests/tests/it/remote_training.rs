//! Training on devices hosted by `albert device-server` (burn's remote backend over WebSocket): two
//! servers on this machine, each hosting the CPU, stand in for two machines. The client drives
//! both replicas, gathers their gradients on the first server and steps there; the result must be
//! the run one device makes with two accumulated micro-batches — same losses, same weights — and
//! follow the local CPU run.

use std::net::TcpListener;
use std::path::Path;

use albert_pretrain::train::metrics::MetricsRecord;
use albert_pretrain::train::{PretrainConfig, TrainOptions, pretrain};
use albert_runner::device::{devices, probe, remote_device};
use burn::tensor::Device;

/// Starts an `albert device-server` server for the CPU on a free local port (token optional); returns
/// its `remote:` device name. The server thread lives until the test process exits.
fn start_server(token: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        albert_runner::device_server::serve(listener, vec![Device::flex()], token).expect("serve");
    });
    format!("remote:ws://127.0.0.1:{port}")
}

fn tiny_config(shared: &Path) -> PretrainConfig {
    let run = albert_testdata::TinyRun {
        gradient_accumulation: 2,
        eval_every: 3,
        ..albert_testdata::TinyRun::default()
    };
    let text = albert_testdata::tiny_pretrain_toml(shared) + &run.toml();
    PretrainConfig::from_toml(&text, Path::new("inline.toml")).expect("config")
}

fn without_timing(records: &[MetricsRecord]) -> Vec<MetricsRecord> {
    records.iter().map(MetricsRecord::without_timing).collect()
}

#[test]
fn two_remote_servers_train_like_one_device() {
    let Some(data) = albert_testdata::shared_path("data") else {
        return;
    };
    let shared = data.parent().expect("shared dir").to_path_buf();
    let spec = format!("{},{}", start_server(None), start_server(None));
    let remote = devices(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    assert_eq!(remote.len(), 2);

    let accumulated = tiny_config(&shared);
    let mut parallel = accumulated.clone();
    parallel.run.gradient_accumulation = 1;
    let tmp = tempfile::tempdir().expect("tmp");
    let run = |config: &PretrainConfig, name: &str, devices: &[Device]| {
        pretrain(
            config,
            &tmp.path().join(name),
            devices,
            &TrainOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let served = run(&parallel, "two-servers", &remote);
    let one = run(&accumulated, "one-server", &remote[..1]);
    let local = run(&accumulated, "local", &[albert_runner::device::cpu()]);
    assert_eq!(served.steps, 6);

    // The servers execute burn's own ops: two replicas there are exactly one device with two
    // accumulated micro-batches there.
    assert_eq!(
        without_timing(&one.records),
        without_timing(&served.records)
    );
    let weights = |name: &str| {
        std::fs::read(tmp.path().join(name).join("model/model.safetensors")).expect("weights")
    };
    assert_eq!(
        weights("one-server"),
        weights("two-servers"),
        "two remote replicas differ from one remote device with accumulated micro-batches"
    );
    // The local run takes albert-core's fused flex kernels (GELU): the same losses up to float
    // rounding.
    for (a, b) in local.records.iter().zip(&served.records) {
        assert_eq!((a.kind.as_str(), a.step), (b.kind.as_str(), b.step));
        assert!(
            (a.loss - b.loss).abs() <= 1e-4 * a.loss.abs(),
            "step {}: local {} remote {}",
            a.step,
            a.loss,
            b.loss
        );
    }
}

#[test]
fn remote_device_errors_are_clear() {
    // Nothing listens (the client retries for ~15 s before giving up) on a port we bound and released.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address").port()
    };
    let name = format!("remote:ws://127.0.0.1:{port}");
    let err = devices(&name).expect_err("no server there").to_string();
    assert!(
        err.contains(&name) && err.contains("cannot connect"),
        "{err}"
    );

    let err = devices("remote:http://127.0.0.1:1")
        .expect_err("not a ws URL")
        .to_string();
    assert!(err.contains("remote:ws://HOST:PORT"), "{err}");
    let err = devices("remote:ws://127.0.0.1:1#x")
        .expect_err("bad index")
        .to_string();
    assert!(err.contains("index"), "{err}");

    // `albert device-server`: a taken port, a remote device to serve and a non-loopback address
    // without a token are usage errors.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let err = albert_runner::device_server::run("127.0.0.1", port, "cpu", None)
        .expect_err("port taken")
        .to_string();
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    let err = albert_runner::device_server::run("127.0.0.1", 0, "remote:ws://127.0.0.1:1", None)
        .expect_err("serving a remote device")
        .to_string();
    assert!(err.contains("cannot be served again"), "{err}");
    let err = albert_runner::device_server::run("0.0.0.0", 0, "cpu", None)
        .expect_err("exposed without a token")
        .to_string();
    assert!(err.contains("needs --token"), "{err}");

    // A server with a token turns away a client without it or with another one, and serves the
    // client presenting it.
    let guarded = start_server(Some("s3cret"));
    for token in [None, Some("guess")] {
        let err = remote_device(&guarded, token)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(&guarded), "{token:?}: {err}");
    }
    let device = remote_device(&guarded, Some("s3cret")).expect("the right token");
    probe(&device, &guarded).expect("a computation on the guarded server");
}
