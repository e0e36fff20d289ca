//! `albert device-server`: hosts this machine's devices for `--device remote:ws://HOST:PORT` clients,
//! through burn's remote backend (WebSocket transport, feature `remote`). The client keeps the
//! autodiff graph and drives the run; the server executes the tensor operations it is sent.

use std::net::TcpListener;

use burn::tensor::Device;
use clap::Args;

use crate::device::not_built;
use crate::error::{Result, RunnerError};

/// `albert device-server`: host this machine's devices for other machines' `--device
/// remote:ws://HOST:PORT` (burn's remote backend over WebSocket; needs the `remote` feature).
/// Runs until Ctrl+C. Binds 127.0.0.1 unless told otherwise, and refuses any other address
/// without `--token`: whoever reaches the port runs tensor operations on this machine.
#[derive(Debug, Clone, Args)]
pub struct DeviceServerArgs {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every IPv4 interface,
    /// which needs --token).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The devices to host, comma-separated (clients pick one with `#N`): cpu, wgpu:N, cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Accept only clients presenting this token (clients set ALBERT_REMOTE_TOKEN). The
    /// WebSocket transport is unencrypted: use it on a trusted network.
    #[arg(long, env = "ALBERT_REMOTE_TOKEN")]
    pub token: Option<String>,
}

impl DeviceServerArgs {
    /// Runs `albert device-server` ([`run`]).
    pub fn run(&self) -> Result<()> {
        run(&self.bind, self.port, &self.device, self.token.as_deref())
    }
}

/// Serves `devices` on `listener` until the process receives Ctrl+C or SIGTERM. With `token`,
/// only clients presenting it (`ALBERT_REMOTE_TOKEN` on the client) open sessions.
#[cfg(feature = "remote")]
pub fn serve(listener: TcpListener, devices: Vec<Device>, token: Option<&str>) -> Result<()> {
    use burn::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};
    let mut server = RemoteServer::new(devices);
    if let Some(token) = token {
        let authorizer =
            TokenAuthorizer::new(token).map_err(|e| RunnerError::Usage(format!("--token: {e}")))?;
        server = server.with_authorizer(authorizer);
    }
    server
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| RunnerError::Usage(format!("albert device-server: {e}")))
}

/// Without the `remote` feature there is nothing to serve with.
#[cfg(not(feature = "remote"))]
pub fn serve(_listener: TcpListener, _devices: Vec<Device>, _token: Option<&str>) -> Result<()> {
    Err(not_built("albert device-server", "remote"))
}

/// Binds `bind:port` (a clear error when the port is taken), then [`serve`]s the devices of the
/// comma-separated `device_spec` (`cpu`, `cuda:0,cuda:1`, …; every device one backend). An
/// address other than a loopback one needs a `token`.
pub fn run(bind: &str, port: u16, device_spec: &str, token: Option<&str>) -> Result<()> {
    if !cfg!(feature = "remote") {
        return Err(not_built("albert device-server", "remote"));
    }
    check_exposure(bind, token)?;
    if device_spec
        .split(',')
        .any(|d| d.trim().starts_with("remote:"))
    {
        return Err(RunnerError::Usage(
            "albert device-server --device: a remote device cannot be served again; name this \
             machine's devices (cpu, wgpu, cuda:N)"
                .into(),
        ));
    }
    let devices = crate::device::devices(device_spec)?;
    let listener = TcpListener::bind((bind, port)).map_err(|e| io_usage(bind, port, e))?;
    let local = listener.local_addr().map_err(|e| io_usage(bind, port, e))?;
    eprintln!(
        "serving {device_spec} on ws://{local} (clients: --device remote:ws://THIS_HOST:{}{}); \
         Ctrl+C to stop",
        local.port(),
        if token.is_some() {
            ", with ALBERT_REMOTE_TOKEN set to the token"
        } else {
            ""
        }
    );
    serve(listener, devices, token)
}

/// Refuses to expose the devices beyond this machine without a token: the transport runs any
/// tensor operation a client sends. `bind` is an IP address or `localhost`.
pub fn check_exposure(bind: &str, token: Option<&str>) -> Result<()> {
    let loopback = bind == "localhost"
        || bind
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || token.is_some_and(|t| !t.is_empty()) {
        return Ok(());
    }
    Err(RunnerError::Usage(format!(
        "albert device-server --bind {bind}: a non-loopback address needs --token (or \
         ALBERT_REMOTE_TOKEN); clients set ALBERT_REMOTE_TOKEN to the same value"
    )))
}

fn io_usage(bind: &str, port: u16, e: std::io::Error) -> RunnerError {
    RunnerError::Usage(format!(
        "albert device-server: cannot listen on {bind}:{port}: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::check_exposure;

    #[test]
    fn a_non_loopback_address_needs_a_token() {
        for bind in ["127.0.0.1", "::1", "localhost", "127.0.0.2"] {
            assert!(check_exposure(bind, None).is_ok(), "{bind}");
        }
        for bind in ["0.0.0.0", "::", "192.168.1.5", "example.org"] {
            let err = check_exposure(bind, None).expect_err(bind).to_string();
            assert!(err.contains("needs --token"), "{err}");
            assert!(
                check_exposure(bind, Some("")).is_err(),
                "empty token, {bind}"
            );
            assert!(check_exposure(bind, Some("t0ken")).is_ok(), "{bind}");
        }
    }
}
