//! A small blocking HTTP/1.1 client (keep-alive, `Content-Length` and chunked bodies) and a
//! bounded load generator, for the server's tests and `cargo xtask bench --suite serve`. It
//! talks to the address it is given, meant to be 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// `(name, value)` pairs, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> std::io::Result<Value> {
        serde_json::from_slice(&self.body).map_err(std::io::Error::other)
    }
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

fn bad(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

impl Client {
    /// A client for `addr` (connects on the first request, and again if the server closed).
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None }
    }

    /// Sends `method path` with `body` (JSON) and reads the response.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
        // A kept-alive connection the server has closed fails on first use: retry once fresh.
        let reused = self.stream.is_some();
        match self.try_request(method, path, body) {
            Err(_) if reused => {
                self.stream = None;
                self.try_request(method, path, body)
            }
            r => r,
        }
    }

    /// `POST path` with a JSON body.
    pub fn post(&mut self, path: &str, body: &Value) -> std::io::Result<Response> {
        self.request("POST", path, body.to_string().as_bytes())
    }

    fn try_request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(10))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(120)))?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(bad("no connection"));
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let w = stream.get_mut();
        w.write_all(head.as_bytes())?;
        w.write_all(body)?;
        w.flush()?;
        let response = read_response(stream);
        match &response {
            Ok(r) if r.header("connection") != Some("close") => {}
            _ => self.stream = None,
        }
        response
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_response(r: &mut impl BufRead) -> std::io::Result<Response> {
    let status_line = read_line(r)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let size_line = read_line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                read_line(r)?;
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            read_line(r)?;
        }
        body
    } else {
        let n: usize = find("content-length")
            .map(|v| {
                v.parse()
                    .map_err(|_| bad(format!("bad content-length {v:?}")))
            })
            .transpose()?
            .unwrap_or(0);
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Whether two JSON values are equal, numbers within `tolerance` (absolute) of each other.
pub fn json_close(a: &Value, b: &Value, tolerance: f64) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= tolerance,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_close(a, b, tolerance))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w, tolerance)))
        }
        _ => a == b,
    }
}

/// One request of a load test and the body it must get back (`None`: any 200).
#[derive(Debug, Clone)]
pub struct Probe {
    /// The route, e.g. `/v1/classify`.
    pub path: String,
    /// The JSON body.
    pub body: Value,
    /// The expected response body.
    pub expected: Option<Value>,
}

/// What a load test measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// Concurrent clients.
    pub concurrency: usize,
    /// Requests sent.
    pub requests: usize,
    /// Responses other than 200 (or failed connections).
    pub errors: usize,
    /// 200 responses whose body differed from the expected one.
    pub mismatches: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Requests per second.
    pub throughput: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// The first problem seen, if any.
    pub first_problem: Option<String>,
}

/// Sends `count` requests, cycling through `probes`, from `concurrency` clients at once (each
/// waits for its answer before sending the next), and checks every answer (numbers within
/// `tolerance`).
pub fn load_test(
    addr: SocketAddr,
    probes: &[Probe],
    count: usize,
    concurrency: usize,
    tolerance: f64,
) -> LoadReport {
    let concurrency = concurrency.max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = Instant::now();
    let per_client: Vec<(Vec<f64>, usize, usize, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency)
            .map(|_| {
                s.spawn(|| {
                    let mut client = Client::new(addr);
                    let (mut latencies, mut errors, mut mismatches, mut problem) =
                        (Vec::new(), 0, 0, None);
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= count || probes.is_empty() {
                            break;
                        }
                        let probe = &probes[i % probes.len()];
                        let t = Instant::now();
                        let r = client.post(&probe.path, &probe.body);
                        latencies.push(t.elapsed().as_secs_f64() * 1e3);
                        let trouble = match r {
                            Err(e) => {
                                errors += 1;
                                Some(format!("request {i}: {e}"))
                            }
                            Ok(r) if r.status != 200 => {
                                errors += 1;
                                Some(format!(
                                    "request {i}: status {}: {}",
                                    r.status,
                                    String::from_utf8_lossy(&r.body)
                                ))
                            }
                            Ok(r) => match (&probe.expected, r.json()) {
                                (Some(want), Ok(got)) if !json_close(want, &got, tolerance) => {
                                    mismatches += 1;
                                    Some(format!("request {i}: got {got}, expected {want}"))
                                }
                                (_, Err(e)) => {
                                    mismatches += 1;
                                    Some(format!("request {i}: {e}"))
                                }
                                _ => None,
                            },
                        };
                        if problem.is_none() {
                            problem = trouble;
                        }
                    }
                    (latencies, errors, mismatches, problem)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Vec::new(), 1, 0, Some("a client thread panicked".into())))
            })
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut latencies: Vec<f64> = per_client.iter().flat_map(|c| c.0.clone()).collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if latencies.is_empty() {
            f64::NAN
        } else {
            latencies[((latencies.len() - 1) as f64 * p).round() as usize]
        }
    };
    let requests = latencies.len();
    LoadReport {
        concurrency,
        requests,
        errors: per_client.iter().map(|c| c.1).sum(),
        mismatches: per_client.iter().map(|c| c.2).sum(),
        seconds,
        throughput: requests as f64 / seconds.max(1e-9),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        first_problem: per_client.into_iter().find_map(|c| c.3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_sized_and_chunked_bodies() {
        let sized = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-A: b\r\n\r\n{}";
        let r = read_response(&mut &sized[..]).expect("sized");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(r.header("x-a"), Some("b"));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = read_response(&mut &chunked[..]).expect("chunked");
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        assert!(read_response(&mut &b"garbage\r\n\r\n"[..]).is_err());
    }

    #[test]
    fn json_numbers_compare_within_tolerance() {
        let a = json!([{"label": "pos", "score": 0.5}]);
        assert!(json_close(
            &a,
            &json!([{"label": "pos", "score": 0.500_000_1}]),
            1e-6
        ));
        assert!(!json_close(
            &a,
            &json!([{"label": "pos", "score": 0.6}]),
            1e-6
        ));
        assert!(!json_close(
            &a,
            &json!([{"label": "neg", "score": 0.5}]),
            1e-6
        ));
        assert!(!json_close(&a, &json!([]), 1e-6));
    }
}
