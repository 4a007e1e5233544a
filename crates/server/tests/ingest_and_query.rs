//! gRPC ingest into a real server, read back over the REST API.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use support::*;

#[tokio::test]
async fn reported_points_are_visible_through_every_read_endpoint() {
    let s = TestServer::start().await;
    let t = now_ms() - 30_000;
    let reply = s
        .report(batch(
            "web-1",
            vec![
                point("cpu.usage", &[], t, 40.0),
                point("cpu.usage", &[], t + 10_000, 60.0),
                point("disk.used_percent", &[("mount", "/")], t + 10_000, 71.5),
                point("system.load_1", &[], t + 10_000, 0.5),
            ],
        ))
        .await;
    assert!(reply.success, "{reply:?}");
    assert_eq!(reply.message, "ok");

    let items = s.data("/v1/metrics?agent_id__eq=web-1&metric_name__eq=cpu.usage").await;
    let values: Vec<f64> = items.as_array().unwrap().iter().map(|i| i["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [60.0, 40.0], "newest first");
    let first = &items[0];
    assert_eq!(first["agent_id"], "web-1");
    assert_eq!(first["timestamp"], rfc3339(t + 10_000));
    assert_eq!(first["labels"], serde_json::json!({}));
    assert!(first["id"].as_str().unwrap().starts_with(&(t + 10_000).to_string()));

    let page = s.data("/v1/metrics?agent_id__eq=web-1&limit=1&offset=1&metric_name__eq=cpu.usage").await;
    assert_eq!(page[0]["value"], 40.0);

    let names = s.data("/v1/metrics/names").await;
    assert_eq!(
        names,
        serde_json::json!(["cpu.usage", "disk.used_percent", "load.load_1"]),
        "0.1's load name is renamed"
    );
    assert_eq!(s.data("/v1/metrics/agents").await, serde_json::json!(["web-1"]));

    let summary = s.data("/v1/metrics/summary?agent_id=web-1&metric_name=cpu.usage").await;
    assert_eq!(summary, serde_json::json!({"min": 40.0, "max": 60.0, "avg": 50.0, "count": 2}));

    let latest = s.data("/v1/agents/web-1/latest").await;
    let got: Vec<(String, f64)> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["metric_name"].as_str().unwrap().to_owned(), i["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [("cpu.usage".into(), 60.0), ("disk.used_percent".into(), 71.5), ("load.load_1".into(), 0.5)],
        "README order, 0.1's system.load_1 stored as load.load_1"
    );
    assert_eq!(latest[1]["labels"], serde_json::json!({"mount": "/"}));

    let series = s.data("/v1/metrics/series?agent_id=web-1&metric_name=cpu.usage").await;
    assert_eq!(series[0]["points"], serde_json::json!([[t, 40.0], [t + 10_000, 60.0]]));

    let agents = s.data("/v1/agents").await;
    assert_eq!(agents[0]["agent_id"], "web-1");
    assert_eq!(agents[0]["status"], "active");
    assert_eq!(agents[0]["whitelisted"], false, "non-whitelisted agents are listed too");

    let health = s.data("/v1/health").await;
    assert_eq!(health["agent_count"], 1);
    assert_eq!(health["storage_status"], "ok");
    s.stop().await;
}

#[tokio::test]
async fn time_ranges_select_samples_and_accept_offsets() {
    let s = TestServer::start().await;
    let t = now_ms() - 600_000;
    let points = (0..5).map(|i| point("m", &[], t + i * 60_000, i as f64)).collect();
    assert!(s.report(batch("a", points)).await.success);
    let from = q(&rfc3339(t + 60_000));
    let to = q(&jiff::Timestamp::from_millisecond(t + 180_000)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .strftime("%Y-%m-%dT%H:%M:%S%.f%:z")
        .to_string());
    let items = s.data(&format!("/v1/metrics?agent_id__eq=a&timestamp__gte={from}&timestamp__lte={to}")).await;
    let values: Vec<f64> = items.as_array().unwrap().iter().map(|i| i["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [3.0, 2.0, 1.0]);
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_get_enveloped_errors_that_say_what_is_wrong() {
    let s = TestServer::start().await;
    let (status, body, trace) = s.get("/v1/metrics?limit=abc").await;
    assert_eq!(status, 400);
    assert_eq!(body["err_code"], 1001);
    assert_eq!(body["err_msg"], "limit must be a non-negative integer, got \"abc\"");
    assert_eq!(body["data"], serde_json::Value::Null);
    assert_eq!(body["trace_id"], trace.as_str(), "X-Trace-Id matches the envelope");
    assert_eq!(trace.len(), 16);

    let (status, body, _) = s.get("/v1/metrics?timestamp__gte=yesterday").await;
    assert_eq!(status, 400);
    assert!(body["err_msg"].as_str().unwrap().contains("timestamp__gte must be an RFC 3339 timestamp"));

    let (status, body, _) = s.get("/v1/metrics/summary?agent_id=a").await;
    assert_eq!((status, body["err_msg"].as_str().unwrap()), (400, "metric_name is required"));

    let (status, body, _) = s.get("/v1/agents/nobody/latest").await;
    assert_eq!(
        (status, body["err_code"].as_i64().unwrap(), body["err_msg"].as_str().unwrap()),
        (404, 1004, "Agent not found")
    );

    let (status, body, _) = s.get("/v1/no/such/route").await;
    assert_eq!((status, body["err_code"].as_i64().unwrap()), (404, 1004));

    let (status, body, _) =
        s.get("/v1/metrics/series?agent_id=a&metric_name=m&timestamp__gte=2020-01-01T00:00:00Z").await;
    assert_eq!(status, 400, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn points_outside_the_accepted_window_are_refused_in_the_reply_not_acknowledged() {
    let s = TestServer::start().await;
    let now = now_ms();
    let day = 86_400_000;
    let reply = s
        .report(batch(
            "skewed",
            vec![
                point("cpu.usage", &[], 0, 1.0),               // a clock that says 1970
                point("cpu.usage", &[], -5_000, 2.0),          // before the epoch
                point("cpu.usage", &[], now - 10 * day, 3.0),  // a 10-day backlog, retention 7 days
                point("cpu.usage", &[], now + 3_600_000, 4.0), // an hour ahead
                point("cpu.usage", &[], now, 5.0),
            ],
        ))
        .await;
    assert!(!reply.success, "not every point is stored: {reply:?}");
    assert!(reply.permanent, "resending cannot store them");
    let refused: Vec<(u32, &str)> = reply.refused.iter().map(|r| (r.index, r.reason.as_str())).collect();
    assert_eq!(refused, [(0, "expired"), (1, "expired"), (2, "expired"), (3, "future")]);
    assert!(reply.accepted_from_ms <= now - 7 * day && reply.accepted_from_ms > now - 8 * day, "{reply:?}");
    assert!((now + 600_000..now + 700_000).contains(&reply.accepted_until_ms), "{reply:?}");
    assert!(reply.message.starts_with("refused 4 of 5 points outside the accepted time window "), "{}", reply.message);
    assert!(reply.message.contains("retention_days = 7"), "{}", reply.message);
    assert!(
        reply.message.contains("data point 0 (cpu.usage) at 1970-01-01T00:00:00Z is older than"),
        "{}",
        reply.message
    );

    let values: Vec<f64> = s
        .data("/v1/metrics?agent_id__eq=skewed")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [5.0], "the point inside the window is stored");

    // An agent whose every point is refused is not shown as reporting.
    let reply = s.report(batch("stuck-in-1970", vec![point("cpu.usage", &[], 1_000, 1.0)])).await;
    assert!(!reply.success && reply.permanent);
    let agents: Vec<String> = s
        .data("/v1/agents")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(agents, ["skewed"]);

    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"oxmon_ingest_dropped_samples_total{reason="expired"} 4"#), "{metrics}");
    assert!(metrics.contains(r#"oxmon_ingest_dropped_samples_total{reason="future"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"oxmon_ingest_batches_total{result="refused_points"} 2"#), "{metrics}");
    s.stop().await;
}

#[tokio::test]
async fn invalid_batches_are_rejected_in_band_and_store_nothing() {
    let s = TestServer::start().await;
    let now = now_ms();
    let cases = [
        (batch("", vec![point("m", &[], now, 1.0)]), "agent_id is required"),
        (batch("a", vec![]), "data_points cannot be empty"),
        (batch("a", vec![point("m", &[], now, 1.0); 10_001]), "batch too large: 10001 data points (max 10000)"),
        (
            batch("a", vec![point("ok", &[], now, 1.0), point("m", &[], now, f64::INFINITY)]),
            "data point 1 (m): value inf is not a finite number",
        ),
    ];
    for (b, message) in cases {
        let reply = s.report(b).await;
        assert!(!reply.success);
        assert_eq!(reply.message, message);
        assert!(reply.permanent, "{message}");
    }
    assert_eq!(s.data("/v1/metrics/agents").await, serde_json::json!([]), "nothing stored");
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"oxmon_ingest_batches_total{result="rejected"} 4"#), "{metrics}");
    s.stop().await;
}

#[tokio::test]
async fn probes_and_prometheus_metrics_are_served() {
    let s = TestServer::start().await;
    assert!(s.report(batch("a", vec![point("m", &[], now_ms(), 1.0), point("n", &[], now_ms(), 2.0)])).await.success);
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = reqwest::get(s.url(path)).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), body);
    }
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    for needle in [
        "oxmon_ingest_samples_total 2",
        r#"oxmon_ingest_batches_total{result="ok"} 1"#,
        "oxmon_ingest_commit_seconds_count 1",
        "oxmon_storage_writer_queue_depth 0",
        "oxmon_agents_active 1",
        "oxmon_agents_known 1",
    ] {
        assert!(metrics.contains(needle), "missing {needle:?} in\n{metrics}");
    }
    s.stop().await;
}

#[tokio::test]
async fn agents_and_their_last_seen_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(tmp.path())).await;
    let t = now_ms();
    assert!(s.report(batch("db-1", vec![point("cpu.usage", &[], t, 5.0)])).await.success);
    let before = s.data("/v1/agents").await;
    s.stop().await;

    let s = TestServer::start_with(config(tmp.path())).await;
    let after = s.data("/v1/agents").await;
    assert_eq!(after[0]["agent_id"], "db-1");
    assert_eq!(after[0]["last_seen"], before[0]["last_seen"]);
    assert_eq!(s.data("/v1/metrics?agent_id__eq=db-1").await[0]["value"], 5.0);
    s.stop().await;
}
