//! The shared network plumbing of the channels: one HTTP client with
//! timeouts, the retry loop (also used for SMTP) and response
//! classification.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use crate::report::{Delivery, error_text};

/// Responses are read up to this size (bodies are logged truncated anyway).
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Timeouts and retry schedule of every network call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Establishing a TCP connection (HTTP), or each SMTP step.
    pub connect_timeout: Duration,
    /// One whole request: connect, TLS, send, response (or one SMTP message).
    pub request_timeout: Duration,
    /// Sleeps between attempts; attempts = `retry_backoff.len() + 1`.
    pub retry_backoff: Vec<Duration>,
}

impl Default for NetConfig {
    /// Connect 5 s, request 10 s, 3 attempts with 100 ms then 200 ms pauses.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retry_backoff: vec![Duration::from_millis(100), Duration::from_millis(200)],
        }
    }
}

/// The HTTP client (rustls, webpki roots) and [`NetConfig`] every channel
/// uses. Cheap to clone; build one and share it.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    net: Arc<NetConfig>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct HttpClientError(String);

impl HttpClient {
    pub fn new(net: NetConfig) -> Result<Self, HttpClientError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(net.connect_timeout)
            .timeout(net.request_timeout)
            .user_agent(concat!("oxmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpClientError(error_text(&e)))?;
        Ok(Self { client, net: Arc::new(net) })
    }

    pub fn net(&self) -> &NetConfig {
        &self.net
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `build` makes, retrying as [`NetConfig`] says while
    /// `classify` (given the status and body of a response) says to.
    pub(crate) async fn deliver<B, C>(&self, build: B, classify: C) -> Delivery
    where
        B: Fn() -> RequestBuilder,
        C: Fn(StatusCode, &str) -> Verdict,
    {
        with_retries(&self.net.retry_backoff, || self.attempt(build(), &classify)).await
    }

    async fn attempt<C>(&self, request: RequestBuilder, classify: &C) -> Attempt
    where
        C: Fn(StatusCode, &str) -> Verdict,
    {
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::transport(self.describe(e)),
        };
        let status = response.status();
        let body = match read_capped(response).await {
            Ok(b) => b,
            Err(e) => return Attempt { http_status: Some(status.as_u16()), ..Attempt::transport(self.describe(e)) },
        };
        let verdict = classify(status, &body);
        Attempt { http_status: Some(status.as_u16()), response_body: Some(body), verdict }
    }

    /// A transport error without its URL (robot URLs carry access tokens).
    fn describe(&self, e: reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("request timed out after {} ms", self.net.request_timeout.as_millis());
        }
        let connect = e.is_connect();
        let text = error_text(&e.without_url());
        if connect { format!("cannot connect: {text}") } else { text }
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE_BODY - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_RESPONSE_BODY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// What one response means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Delivered { message_id: Option<String> },
    Failed { error: String, api_error_code: Option<String>, retry: bool },
}

impl Verdict {
    pub(crate) fn delivered() -> Self {
        Verdict::Delivered { message_id: None }
    }

    pub(crate) fn retry(error: impl Into<String>, api_error_code: Option<String>) -> Self {
        Verdict::Failed { error: error.into(), api_error_code, retry: true }
    }
}

/// Success is a 2xx status. Timeouts, 408, 429 and 5xx are retried; other
/// 4xx are not, since the same request would fail again.
pub(crate) fn classify_status(status: StatusCode, body: &str) -> Verdict {
    if status.is_success() {
        return Verdict::delivered();
    }
    let retry =
        status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS;
    let snippet: String = body.chars().take(200).collect();
    let error = if snippet.trim().is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {snippet}") };
    Verdict::Failed { error, api_error_code: None, retry }
}

/// One attempt's outcome.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub(crate) http_status: Option<u16>,
    pub(crate) response_body: Option<String>,
    pub(crate) verdict: Verdict,
}

impl Attempt {
    /// Nothing usable came back (connect error, timeout, TLS failure):
    /// always worth another try.
    pub(crate) fn transport(error: String) -> Self {
        Attempt { http_status: None, response_body: None, verdict: Verdict::retry(error, None) }
    }
}

/// Runs `attempt` until it delivers, says not to retry, or the schedule is
/// used up, sleeping `backoff[i]` before retry `i + 1`.
pub(crate) async fn with_retries<F, Fut>(backoff: &[Duration], mut attempt: F) -> Delivery
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut retries: u32 = 0;
    loop {
        let a = attempt().await;
        let mut d =
            Delivery { http_status: a.http_status, response_body: a.response_body, retries, ..Delivery::default() };
        match a.verdict {
            Verdict::Delivered { message_id } => {
                d.message_id = message_id;
                return d;
            }
            Verdict::Failed { error, api_error_code, retry } => {
                let next = backoff.get(retries as usize).filter(|_| retry);
                tracing::debug!(attempt = retries + 1, retry = next.is_some(), error = %error, "notification attempt failed");
                match next {
                    Some(pause) => {
                        tokio::time::sleep(*pause).await;
                        retries += 1;
                    }
                    None => {
                        d.error = Some(error);
                        d.api_error_code = api_error_code;
                        return d;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn attempt(verdict: Verdict) -> Attempt {
        Attempt { http_status: Some(200), response_body: None, verdict }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_follow_the_schedule_then_give_up() {
        let calls = AtomicU32::new(0);
        let backoff = NetConfig::default().retry_backoff;
        let started = tokio::time::Instant::now();
        let d = with_retries(&backoff, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { attempt(Verdict::retry("boom", Some("7".into()))) }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!((d.retries, d.error.as_deref(), d.api_error_code.as_deref()), (2, Some("boom"), Some("7")));
        assert_eq!(started.elapsed(), Duration::from_millis(300), "100 ms then 200 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_and_successes_stop_at_once() {
        let calls = AtomicU32::new(0);
        let d = with_retries(&NetConfig::default().retry_backoff, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { attempt(classify_status(StatusCode::NOT_FOUND, "no such hook")) }
        })
        .await;
        assert_eq!((calls.load(Ordering::SeqCst), d.retries), (1, 0));
        assert_eq!(d.error.as_deref(), Some("HTTP 404 Not Found: no such hook"));

        let calls = AtomicU32::new(0);
        let d = with_retries(&NetConfig::default().retry_backoff, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    attempt(classify_status(StatusCode::BAD_GATEWAY, ""))
                } else {
                    attempt(Verdict::delivered())
                }
            }
        })
        .await;
        assert!(d.ok());
        assert_eq!(d.retries, 1);
    }
}
