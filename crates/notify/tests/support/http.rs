//! A real HTTP server on loopback that records every request and answers
//! as the test scripts it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, Response, StatusCode};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Query parameters, percent-decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let q = self.query.clone().unwrap_or_default();
        reqwest::Url::parse(&format!("http://x/?{q}")).unwrap().query_pairs().into_owned().collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// How to answer a request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16, String),
    /// Never answer.
    Hang,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply::Status(200, body.to_owned())
    }
}

type Script = dyn Fn(usize, &Captured) -> Reply + Send + Sync;

pub struct Receiver {
    pub addr: SocketAddr,
    captured: Arc<Mutex<Vec<Captured>>>,
}

impl Receiver {
    /// Starts a receiver answering with `script(index of the request, request)`.
    pub async fn start(script: impl Fn(usize, &Captured) -> Reply + Send + Sync + 'static) -> Receiver {
        let captured: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let state = (captured.clone(), script);
        let app = Router::new().fallback(move |req: Request<Body>| {
            let (captured, script) = state.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = to_bytes(body, 1 << 20).await.unwrap();
                let c = Captured {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers,
                    body: String::from_utf8(body.to_vec()).unwrap(),
                };
                let index = {
                    let mut all = captured.lock().unwrap();
                    all.push(c.clone());
                    all.len() - 1
                };
                match script(index, &c) {
                    Reply::Status(code, body) => Response::builder()
                        .status(StatusCode::from_u16(code).unwrap())
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .unwrap(),
                    Reply::Hang => std::future::pending().await,
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, captured }
    }

    /// Answers every request with 200 and `body`.
    pub async fn always(body: &'static str) -> Receiver {
        Self::start(move |_, _| Reply::ok(body)).await
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }

    /// Waits (real time, up to 10 s) until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Captured> {
        for _ in 0..1000 {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} requests, got {}", self.requests().len());
    }
}
