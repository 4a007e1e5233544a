//! What the agent tells its operator: refused data (issue 9, point 1), failing reports at
//! least once per period, the wrong (HTTP) port, periodic and final totals (issue 11, point 3).
//! Real sockets throughout: gRPC, HTTP/1.1 and h2 servers on loopback.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxmon_agent::config::BackoffConfig;
use support::*;
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(20);

const REFUSAL: &str = "2 of 2 points refused: older than the 7-day retention \
                       (accepted window 2026-12-01T00:00:00Z to 2026-12-08T00:05:00Z)";

const HTTP_PORT_HINT: &str = "this looks like the HTTP port";

#[tokio::test]
async fn permanent_refusals_are_logged_rate_limited_quoting_the_server_with_counts() {
    let recording = Recording::default();
    let policy: Policy = Arc::new(|_| Reply::Refused(REFUSAL.to_owned()));
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), &recording, policy, None).await;
    let mut config = test_config(server.addr, "");
    config.log_period = Duration::from_millis(500);
    let seq = SeqSource::default();
    let started = Instant::now();
    let (agent, logs) = Agent::spawn_logged(config, seq.source(2));

    let r = recording.clone();
    wait_until(WAIT, "refusals over three periods", move || {
        r.len() >= 10 && started.elapsed() > Duration::from_millis(1_300)
    })
    .await;
    let stats = agent.stop().await;
    let elapsed = started.elapsed();
    server.stop().await;

    let lines = logs.lines_with("the server refused data permanently");
    let most = (elapsed.as_millis() / 500 + 1) as usize;
    assert!(lines.len() >= 3 && lines.len() <= most, "{} lines in {elapsed:?}:\n{}", lines.len(), logs.text());
    for line in &lines {
        assert!(line.contains(" WARN "), "{line}");
        assert!(line.contains(&format!("server_message={REFUSAL:?}")), "quotes the server: {line}");
        assert_eq!(number(line, "points"), 2 * number(line, "batches"), "{line}");
        let dropped = format!(
            "dropped the refused requests' {} batches ({} points)",
            number(line, "batches"),
            number(line, "points")
        );
        assert!(line.contains(&dropped), "{line}");
    }
    // The first refusal is logged at once; later lines sum up what they left out.
    assert_eq!((number(&lines[0], "batches"), number(&lines[0], "repeats")), (1, 0), "{}", lines[0]);
    assert!(lines[1..].iter().all(|l| number(l, "repeats") > 0), "{lines:#?}");
    let logged_requests: u64 = lines.iter().map(|l| number(l, "repeats") + 1).sum();
    let logged_batches: u64 = lines.iter().map(|l| number(l, "batches")).sum();
    assert!(logged_requests <= recording.len() as u64 && logged_batches >= logged_requests, "{lines:#?}");
    assert!(logged_batches <= stats.batches_rejected, "{stats:?}");

    // Nothing is retried, and the final totals count every refusal.
    assert_eq!(stats.batches_rejected, stats.batches_collected, "{stats:?}");
    assert_eq!(stats.requests_failed, 0, "{stats:?}");
    let stopped = logs.lines_with("agent stopped");
    assert_eq!(number(&stopped[0], "refused"), stats.batches_rejected, "{}", stopped[0]);
}

#[tokio::test]
async fn a_dead_server_is_reported_every_period_with_buffered_and_dropped_counts() {
    let addr = free_addr().await;
    let mut config = test_config(addr, "buffer_max_size = 3");
    config.log_period = Duration::from_millis(400);
    config.summary_interval = Duration::from_millis(500);
    config.flush_timeout = Duration::from_millis(100);
    let started = Instant::now();
    let (agent, logs) = Agent::spawn_logged(config, SeqSource::default().source(1));

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let stats = agent.stop().await;
    let elapsed = started.elapsed();

    let lines = logs.lines_with("report failed; retrying");
    let most = (elapsed.as_millis() / 400 + 1) as usize;
    assert!(lines.len() >= 3 && lines.len() <= most, "{} lines in {elapsed:?}:\n{}", lines.len(), logs.text());
    assert!(lines.iter().all(|l| l.contains(" WARN ") && l.contains("cannot connect to the server")), "{lines:#?}");
    assert_eq!((number(&lines[0], "failures"), number(&lines[0], "suppressed")), (1, 0), "{}", lines[0]);
    for pair in lines.windows(2) {
        // Each line counts the attempts left out since the previous one.
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(number(b, "failures"), number(a, "failures") + number(b, "suppressed") + 1, "{a}\n{b}");
    }
    let last = lines.last().unwrap();
    assert_eq!(number(last, "buffered"), 3, "{last}");
    assert!(number(last, "dropped") > 0 && number(last, "dropped") == number(last, "dropped_total"), "{last}");
    assert!(logs.lines_with(HTTP_PORT_HINT).is_empty(), "a refused connection is not the HTTP port");
    assert_eq!(logs.lines_with("buffer full: dropping the oldest batch").len(), 1, "{}", logs.text());

    // Periodic totals while running, and the totals at shutdown.
    let totals = logs.lines_with("agent totals");
    assert!(totals.len() >= 2, "{}", logs.text());
    assert!(totals.windows(2).all(|w| number(&w[0], "dropped_total") <= number(&w[1], "dropped_total")));
    let stopped = logs.lines_with("agent stopped");
    assert_eq!(stopped.len(), 1, "{}", logs.text());
    assert_eq!(number(&stopped[0], "dropped_total"), stats.batches_dropped, "{}", stopped[0]);
    assert_eq!(number(&stopped[0], "unsent"), stats.batches_unsent, "{}", stopped[0]);
    assert_eq!(stats.batches_unsent, 3, "{stats:?}");
}

#[tokio::test]
async fn failures_are_logged_once_per_period_even_when_the_backoff_is_longer() {
    let addr = free_addr().await;
    let mut config = test_config(addr, "");
    // Attempts alone would come every 2-4 s; the period asks for a line every 300 ms.
    config.collection_interval = Duration::from_secs(10);
    config.backoff = BackoffConfig { base: Duration::from_secs(4), max: Duration::from_secs(4) };
    config.log_period = Duration::from_millis(300);
    config.flush_timeout = Duration::from_millis(100);
    let (agent, logs) = Agent::spawn_logged(config, SeqSource::default().source(1));

    tokio::time::sleep(Duration::from_millis(1_250)).await;
    agent.stop().await;

    let lines = logs.lines_with("report failed; retrying");
    assert!(lines.len() >= 4, "{} lines:\n{}", lines.len(), logs.text());
}

/// oxmon-server's HTTP port as axum serves it (HTTP/1.1, and h2 when axum's HTTP/2 support
/// is compiled in), with a JSON 404 for unknown paths.
async fn axum_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        (axum::http::StatusCode::NOT_FOUND, [("content-type", "application/json")], r#"{"err_code":404}"#)
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A web server speaking only HTTP/1.1 (`http2`: false) or only h2 with prior knowledge
/// (`http2`: true), answering every request with a page.
async fn web_server(http2: bool) -> SocketAddr {
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let service = hyper::service::service_fn(|_request| async {
                let page = axum::body::Body::from("<!doctype html><title>oxmon</title>");
                let response =
                    hyper::Response::builder().header("content-type", "text/html; charset=utf-8").body(page).unwrap();
                Ok::<_, std::convert::Infallible>(response)
            });
            let io = TokioIo::new(stream);
            if http2 {
                let connection =
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, service);
                tokio::spawn(connection);
            } else {
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
            }
        }
    });
    addr
}

/// Runs an agent against `addr` until it has logged the HTTP-port hint; returns that line.
async fn hint_for(addr: SocketAddr) -> String {
    let mut config = test_config(addr, "");
    config.log_period = Duration::from_millis(200);
    let (agent, logs) = Agent::spawn_logged(config, SeqSource::default().source(1));
    let l = logs.clone();
    wait_until(WAIT, "the HTTP port hint", move || !l.lines_with(HTTP_PORT_HINT).is_empty()).await;
    let stats = agent.stop().await;
    assert_eq!(stats.batches_sent, 0, "{stats:?}");
    assert!(stats.requests_failed > 0, "{stats:?}");
    assert!(logs.lines_with("reporting to the server").is_empty(), "nothing claims success:\n{}", logs.text());
    logs.lines_with(HTTP_PORT_HINT).remove(0)
}

#[tokio::test]
async fn pointing_at_oxmon_servers_http_port_says_it_looks_like_the_http_port() {
    let addr = axum_server().await;
    let line = hint_for(addr).await;
    assert!(line.contains(" ERROR "), "{line}");
    assert!(line.contains("404 Not Found"), "quotes what the port answered: {line}");
    assert!(line.contains("the gRPC port is its grpc_port (default 9090)"), "{line}");
    assert!(line.contains("set server_endpoint (or OXMON_AGENT_SERVER_ENDPOINT) to e.g. 127.0.0.1:9090"), "{line}");
}

#[tokio::test]
async fn pointing_at_an_http1_only_port_says_it_looks_like_the_http_port() {
    let addr = web_server(false).await;
    let line = hint_for(addr).await;
    assert!(line.contains(" ERROR "), "{line}");
    assert!(line.contains("answer=HTTP/1.1 200 OK"), "{line}");
    assert!(line.contains("default 9090"), "{line}");
}

#[tokio::test]
async fn pointing_at_an_h2_web_server_says_it_looks_like_the_http_port() {
    let addr = web_server(true).await;
    let line = hint_for(addr).await;
    assert!(line.contains(" ERROR "), "{line}");
    assert!(line.contains("answer=HTTP 200 OK (text/html; charset=utf-8)"), "{line}");
    assert!(line.contains("not a gRPC response"), "{line}");
    assert!(!line.contains("compression flag"), "{line}");
    assert!(line.contains("default 9090"), "{line}");
}
