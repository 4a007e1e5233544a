//! Agent authentication (`require_agent_auth`) and gRPC over real TLS.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use oxmon_common::proto::metric_service_client::MetricServiceClient;
use oxmon_common::proto::{MetricBatchProto, ReportResponse};
use support::*;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Request};

async fn call(
    client: &mut MetricServiceClient<Channel>,
    b: MetricBatchProto,
    meta: &[(&'static str, &str)],
) -> Result<ReportResponse, tonic::Status> {
    let mut req = Request::new(b);
    for (k, v) in meta {
        req.metadata_mut().insert(*k, v.parse().unwrap());
    }
    client.report_metrics(req).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn auth_rejects_every_wrong_credential_with_0_1_statuses_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s =
        TestServer::start_with(oxmon_server::config::ServerConfig { require_agent_auth: true, ..config(tmp.path()) })
            .await;
    let token = {
        let m = s.server.state.management.clone();
        tokio::task::spawn_blocking(move || m.whitelist_add("web-1", None, 0).unwrap().unwrap().1).await.unwrap()
    };
    let bearer = format!("Bearer {token}");
    let mut c = s.grpc().await;
    let b = || batch("web-1", vec![point("cpu.usage", &[], now_ms(), 1.0)]);

    type Case<'a> = (Vec<(&'static str, &'a str)>, MetricBatchProto, Code, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec![("agent-id", "web-1")], b(), Code::Unauthenticated, "Missing or invalid authorization header"),
        (
            vec![("authorization", token.as_str()), ("agent-id", "web-1")],
            b(),
            Code::Unauthenticated,
            "Missing or invalid authorization header",
        ),
        (vec![("authorization", bearer.as_str())], b(), Code::Unauthenticated, "Missing agent-id in metadata"),
        (
            vec![("authorization", bearer.as_str()), ("agent-id", "web-2")],
            batch("web-2", vec![point("m", &[], now_ms(), 1.0)]),
            Code::Unauthenticated,
            "Agent not authorized",
        ),
        (vec![("authorization", "Bearer wrong"), ("agent-id", "web-1")], b(), Code::Unauthenticated, "Invalid token"),
        (
            vec![("authorization", bearer.as_str()), ("agent-id", "web-1")],
            batch("web-2", vec![point("m", &[], now_ms(), 1.0)]),
            Code::PermissionDenied,
            "agent_id in payload does not match authenticated identity",
        ),
    ];
    for (meta, b, code, message) in cases {
        let err = call(&mut c, b, &meta).await.unwrap_err();
        assert_eq!((err.code(), err.message()), (code, message), "{meta:?}");
    }
    // A point claiming another agent inside an authenticated batch.
    let mut sneaky = b();
    let mut other = point("cpu.usage", &[], now_ms(), 99.0);
    other.agent_id = "web-9".into();
    sneaky.data_points.push(other);
    let err = call(&mut c, sneaky, &[("authorization", &bearer), ("agent-id", "web-1")]).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("claims agent 'web-9'"), "{}", err.message());

    assert_eq!(s.data("/v1/metrics/agents").await, serde_json::json!([]), "nothing stored");

    let ok = call(&mut c, b(), &[("authorization", &bearer), ("agent-id", "web-1")]).await.unwrap();
    assert!(ok.success, "{ok:?}");
    assert_eq!(s.data("/v1/metrics/agents").await, serde_json::json!(["web-1"]));
    let agents = s.data("/v1/agents").await;
    assert_eq!(agents[0]["whitelisted"], true);
    s.stop().await;
}

#[tokio::test]
async fn the_shared_agent_token_admits_any_agent_and_whitelist_tokens_still_work() {
    const SHARED: &str = "shared-token-for-the-daemonset";
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(tmp.path());
    config.require_agent_auth = true;
    config.agent_shared_token = Some(SHARED.into());
    let s = TestServer::start_with(config).await;
    let token = {
        let m = s.server.state.management.clone();
        tokio::task::spawn_blocking(move || m.whitelist_add("web-1", None, 0).unwrap().unwrap().1).await.unwrap()
    };
    let mut c = s.grpc().await;
    let shared = format!("Bearer {SHARED}");
    for node in ["node-a", "node-b"] {
        let reply = call(
            &mut c,
            batch(node, vec![point("cpu.usage", &[], now_ms(), 1.0)]),
            &[("authorization", &shared), ("agent-id", node)],
        )
        .await
        .unwrap();
        assert!(reply.success, "{node}: {reply:?}");
    }
    let own = format!("Bearer {token}");
    let reply = call(
        &mut c,
        batch("web-1", vec![point("m", &[], now_ms(), 1.0)]),
        &[("authorization", &own), ("agent-id", "web-1")],
    )
    .await
    .unwrap();
    assert!(reply.success);
    // The shared token still binds the batch to the agent-id it names.
    let err = call(
        &mut c,
        batch("node-c", vec![point("m", &[], now_ms(), 1.0)]),
        &[("authorization", &shared), ("agent-id", "node-a")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = call(
        &mut c,
        batch("node-a", vec![point("m", &[], now_ms(), 1.0)]),
        &[("authorization", "Bearer nearly"), ("agent-id", "node-a")],
    )
    .await
    .unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::Unauthenticated, "Agent not authorized"));
    s.stop().await;
}

#[tokio::test]
async fn without_auth_metadata_is_ignored() {
    let s = TestServer::start().await;
    let mut c = s.grpc().await;
    let reply = call(&mut c, batch("any", vec![point("m", &[], now_ms(), 1.0)]), &[("authorization", "garbage")])
        .await
        .unwrap();
    assert!(reply.success);
    s.stop().await;
}

#[tokio::test]
async fn grpc_runs_over_tls_and_refuses_untrusted_or_plaintext_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = make_pki("localhost");
    let mut cfg = config(&tmp.path().join("data"));
    cfg.tls = Some(tls_files(tmp.path(), &pki));
    let s = TestServer::start_with(cfg).await;
    let port = s.server.grpc_addr.port();

    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem)).domain_name("localhost");
    let channel = Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let reply = MetricServiceClient::new(channel)
        .report_metrics(batch("tls-agent", vec![point("m", &[], now_ms(), 1.0)]))
        .await
        .unwrap()
        .into_inner();
    assert!(reply.success);

    // A client that trusts another CA cannot connect.
    let other = make_pki("localhost");
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&other.ca_pem)).domain_name("localhost");
    let untrusted =
        Channel::from_shared(format!("https://localhost:{port}")).unwrap().tls_config(tls).unwrap().connect().await;
    assert!(untrusted.is_err(), "handshake with an untrusted certificate must fail");

    // Plaintext h2c against the TLS port fails too.
    let plain = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await;
    if let Ok(ch) = plain {
        let r = MetricServiceClient::new(ch).report_metrics(batch("x", vec![point("m", &[], now_ms(), 1.0)])).await;
        assert!(r.is_err());
    }
    assert_eq!(s.data("/v1/metrics/agents").await, serde_json::json!(["tls-agent"]));
    s.stop().await;
}

#[tokio::test]
async fn a_bad_tls_file_is_a_clear_startup_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cert.pem"), "not a certificate").unwrap();
    let mut cfg = config(&tmp.path().join("data"));
    cfg.tls = Some(oxmon_server::config::TlsConfig {
        cert_file: tmp.path().join("cert.pem"),
        key_file: tmp.path().join("missing.key"),
    });
    let err = oxmon_server::app::start(cfg, Default::default()).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("missing.key"), "{msg}");
}
