//! Test harness: a real oxmon-server on loopback (with an operator token),
//! and the Kubernetes API served by kube's `Client` over `tower_test::mock`,
//! where the test answers each request after asserting it (the kube-rs
//! `ApiServerVerifier` pattern).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use http::{Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use oxmon_operator::backoff::Backoff;
use oxmon_operator::reconcile::{self, Context, ServerKind};
use oxmon_operator::server::OxmonClient;
use oxmon_server::app::{RunningServer, StartOptions, start};
use oxmon_server::config::ServerConfig;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle, SendResponse};

pub const OPERATOR_TOKEN: &str = "operator-token-0123456789";
pub const ADMIN_PASSWORD: &str = "test-password-1";
pub const NAMESPACE: &str = "default";
pub const RESYNC: Duration = Duration::from_secs(300);

/// A real oxmon server with the operator token configured.
pub struct TestServer {
    pub server: RunningServer,
    _tmp: tempfile::TempDir,
    pub http: reqwest::Client,
    /// The admin's token: changes "behind the operator's back".
    pub admin: String,
}

impl TestServer {
    pub async fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            listen_address: std::net::Ipv4Addr::LOCALHOST.into(),
            grpc_port: 0,
            http_port: 0,
            data_dir: tmp.path().to_owned(),
            ..ServerConfig::default()
        };
        config.auth.default_password = Some(ADMIN_PASSWORD.into());
        config.auth.operator_token = Some(OPERATOR_TOKEN.into());
        config.cert_check.enabled = false;
        let server = start(config, StartOptions::default()).await.unwrap();
        let http = reqwest::Client::new();
        let url = format!("http://{}/v1/auth/login", server.http_addr);
        let login: Value = http
            .post(url)
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let admin = login["data"]["token"].as_str().unwrap().to_owned();
        Self { server, _tmp: tmp, http, admin }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.http_addr)
    }

    /// A request with `token`; returns (status, envelope).
    pub async fn call_as(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url())).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// As the admin (a user): what the REST API shows.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.admin.clone(), method, path, body).await
    }

    /// As the operator token, outside the operator (drift made "behind its back").
    pub async fn operator(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(OPERATOR_TOKEN, method, path, body).await
    }

    /// `data` of a GET as the admin, which must succeed.
    pub async fn data(&self, path: &str) -> Value {
        let (status, body) = self.admin(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body["data"].clone()
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// The Kubernetes API as the test sees it: each request the operator makes.
pub struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
}

/// One request the operator made, to be answered.
pub struct Call {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub content_type: String,
    pub body: Value,
    reply: SendResponse<Response<Body>>,
}

impl ApiServer {
    /// The next request, which must be `method` on `path` (query ignored).
    pub async fn expect(&mut self, method: &str, path: &str) -> Call {
        let call = self.next(&format!("{method} {path}")).await;
        assert_eq!(
            (call.method.as_str(), call.uri.split('?').next().unwrap()),
            (method, path),
            "unexpected request, body {}",
            call.body
        );
        call
    }

    /// The next request, whatever it is; `expected` is for the failure message.
    pub async fn next(&mut self, expected: &str) -> Call {
        let (request, reply) = tokio::time::timeout(Duration::from_secs(10), self.handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("no request came; expected {expected}"))
            .unwrap_or_else(|| panic!("the client is gone; expected {expected}"));
        let uri = request.uri().to_string();
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let method = request.method().to_string();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Call { method, uri, content_type, body, reply }
    }

    /// Asserts the operator has made no request it is waiting on.
    pub fn assert_idle(&mut self) {
        if let Some(Some((request, _))) = self.handle.next_request().now_or_never() {
            panic!("unexpected request {} {}", request.method(), request.uri());
        }
    }
}

impl Call {
    /// Answers with `status` and a JSON body.
    pub fn respond(self, status: u16, body: &impl Serialize) {
        let bytes = serde_json::to_vec(body).unwrap();
        let response = Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .unwrap();
        self.reply.send_response(response);
    }
}

/// A context whose Kubernetes client is served by the returned [`ApiServer`]
/// and whose oxmon client talks to `server_url` with the operator token.
/// Backoff is without jitter so retry delays can be asserted.
pub fn context(server_url: &str) -> (Arc<Context>, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let kube = kube::Client::new(service, NAMESPACE);
    let oxmon = OxmonClient::new(server_url, OPERATOR_TOKEN).unwrap();
    let mut ctx = Context::new(kube, oxmon, RESYNC, Some("oxmon-operator-test".into()));
    ctx.backoff = Backoff { jitter: 0.0, ..Backoff::default() };
    (Arc::new(ctx), ApiServer { handle })
}

/// An oxmon server URL where nothing listens.
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Runs one reconcile of `obj` in the background.
pub fn reconcile<K: ServerKind>(
    obj: &K,
    ctx: &Arc<Context>,
) -> tokio::task::JoinHandle<Result<Action, reconcile::Error>> {
    tokio::spawn(reconcile::reconcile(Arc::new(obj.clone()), ctx.clone()))
}

/// Waits for a background reconcile.
pub async fn finished(
    task: tokio::task::JoinHandle<Result<Action, reconcile::Error>>,
) -> Result<Action, reconcile::Error> {
    tokio::time::timeout(Duration::from_secs(20), task).await.expect("the reconcile did not finish").unwrap()
}

/// Metadata of an object as the API server would have it: namespace, uid,
/// generation, and with or without the operator's finalizer.
pub fn persisted<K: Resource>(mut obj: K, generation: i64, finalizer: bool) -> K {
    let meta = obj.meta_mut();
    meta.namespace = Some(NAMESPACE.into());
    meta.uid = Some(format!("uid-{}", meta.name.clone().unwrap_or_default()));
    meta.generation = Some(generation);
    meta.resource_version = Some(format!("{generation}00"));
    if finalizer {
        meta.finalizers = Some(vec![reconcile::FINALIZER.into()]);
    }
    obj
}

/// The object marked for deletion.
pub fn deleting<K: Resource>(mut obj: K) -> K {
    let meta = obj.meta_mut();
    meta.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    meta.generation = meta.generation.map(|g| g + 1);
    obj
}

/// Path of an object of kind `K` (`plural`) in the test namespace.
pub fn object_path<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!("/apis/oxmon.io/v1alpha1/namespaces/{NAMESPACE}/{}/{}", K::plural(&()), obj.name_any())
}

/// Expects the status patch of `obj`, answers it with the patched object,
/// and returns (the patch's `status`, the patched object).
pub async fn expect_status_patch<K>(api: &mut ApiServer, obj: &K) -> (Value, K)
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    let call = api.expect("PATCH", &format!("{}/status", object_path(obj))).await;
    assert_eq!(call.content_type, "application/merge-patch+json");
    let status = call.body["status"].clone();
    let mut merged = serde_json::to_value(obj).unwrap();
    merge(&mut merged["status"], &status);
    let patched: K = serde_json::from_value(merged.clone()).unwrap();
    call.respond(200, &merged);
    (status, patched)
}

/// Expects an event (new, or a repeat of a recent one) and returns (type, reason, note).
pub async fn expect_event(api: &mut ApiServer) -> (String, String, String) {
    let events = format!("/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events");
    let call = api.next(&format!("an event under {events}")).await;
    let path = call.uri.split('?').next().unwrap().to_owned();
    let repeat = call.method == "PATCH" && path.starts_with(&format!("{events}/"));
    assert!(call.method == "POST" && path == events || repeat, "not an event: {} {path}: {}", call.method, call.body);
    let body = call.body.clone();
    let fields = (
        body["type"].as_str().unwrap().to_owned(),
        body["reason"].as_str().unwrap().to_owned(),
        body["note"].as_str().unwrap_or_default().to_owned(),
    );
    call.respond(if repeat { 200 } else { 201 }, &body);
    fields
}

/// Expects the finalizer to be added and answers with the object carrying it.
pub async fn expect_finalizer_added<K>(api: &mut ApiServer, obj: &K) -> K
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    let call = api.expect("PATCH", &object_path(obj)).await;
    assert_eq!(call.content_type, "application/json-patch+json");
    assert_eq!(
        call.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [reconcile::FINALIZER]}
        ])
    );
    let mut with = serde_json::to_value(obj).unwrap();
    with["metadata"]["finalizers"] = json!([reconcile::FINALIZER]);
    let patched: K = serde_json::from_value(with.clone()).unwrap();
    call.respond(200, &with);
    patched
}

/// Expects the finalizer to be removed.
pub async fn expect_finalizer_removed<K>(api: &mut ApiServer, obj: &K)
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let call = api.expect("PATCH", &object_path(obj)).await;
    assert_eq!(call.content_type, "application/json-patch+json");
    assert_eq!(
        call.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": reconcile::FINALIZER},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ])
    );
    let mut without = serde_json::to_value(obj).unwrap();
    without["metadata"]["finalizers"] = json!([]);
    call.respond(200, &without);
}

/// The `Ready` condition of a status patch: (status, reason, message).
pub fn ready(status: &Value) -> (String, String, String) {
    let c = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .unwrap_or_else(|| panic!("no Ready condition in {status}"));
    (c["status"].as_str().unwrap().into(), c["reason"].as_str().unwrap().into(), c["message"].as_str().unwrap().into())
}

/// RFC 7386 merge of `patch` into `target`.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// A Secret as the API server returns it.
pub fn secret(name: &str, resource_version: &str, data: &[(&str, &str)]) -> Value {
    use base64::Engine as _;
    let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": resource_version},
        "data": data.iter().map(|(k, v)| ((*k).to_owned(), json!(encode(v.as_bytes())))).collect::<serde_json::Map<_, _>>(),
    })
}

/// Expects a read of Secret `name` and answers with `secret` (or 404 for `None`).
pub async fn expect_secret_read(api: &mut ApiServer, name: &str, secret: Option<Value>) {
    let call = api.expect("GET", &format!("/api/v1/namespaces/{NAMESPACE}/secrets/{name}")).await;
    match secret {
        Some(s) => call.respond(200, &s),
        None => call.respond(
            404,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                    "message": format!("secrets \"{name}\" not found")}),
        ),
    }
}

/// A real HTTP receiver on loopback that records the headers of each request.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    headers: Arc<std::sync::Mutex<Vec<http::HeaderMap>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let headers: Arc<std::sync::Mutex<Vec<http::HeaderMap>>> = Arc::default();
        let seen = headers.clone();
        let app = axum::Router::new().fallback(move |h: http::HeaderMap| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(h);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, headers }
    }

    /// Header `name` of every request received so far.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default())
            .collect()
    }
}
