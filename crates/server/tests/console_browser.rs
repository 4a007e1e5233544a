//! The web console in a real browser: headless Chromium (Debian's
//! `chromium` + `chromium-driver`) against a real server with the real
//! `oxmon-agent` reporting this machine, on loopback. One browser session
//! for the whole file (CI time). Screenshots of every page are written to
//! `target/console-screenshots/`.
//!
//! Needs `target/debug/oxmon-agent` (`cargo test --workspace --no-run` or
//! `cargo build -p oxmon-agent` builds it) and the Debian packages; fails
//! with a message naming what is missing.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;
use webdriver::Browser;

fn screenshots_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/console-screenshots
    exe.ancestors().nth(3).unwrap().join("console-screenshots")
}

fn this_host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned();
    if name.is_empty() { "this-host".into() } else { name }
}

/// Waits until the page has rendered `page` and finished loading its data.
async fn ready(b: &Browser, page: &str) {
    let script = format!("return window.oxmon && window.oxmon.page === '{page}' && window.oxmon.ready;");
    b.wait_for(&format!("the {page} page"), 20, &script).await;
}

async fn wait_server(mut cond: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..300 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every documented operation answers 401 without credentials, except the
/// public ones.
async fn every_api_call_needs_a_session(s: &TestServer) {
    let doc: Value = s.http.get(s.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = method.to_uppercase().parse::<Method>() else { continue };
            let public = op.get("security").is_none_or(|s| s.as_array().is_some_and(|a| a.is_empty()));
            if public {
                continue;
            }
            let concrete = path.replace(['{', '}'], "");
            let resp =
                s.http.request(m.clone(), s.url(&concrete)).header("Cookie", "oxmon_csrf=x").send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 401, "{method} {path} without a session");
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} operations checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let shots = screenshots_dir();
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(&tmp.path().join("data"))).await;
    let base = s.url("");
    let host = this_host();

    // The real agent, reporting this machine every second.
    let agent_toml = tmp.path().join("agent.toml");
    std::fs::write(
        &agent_toml,
        format!("agent_id = \"{host}\"\nserver_endpoint = \"{}\"\ncollection_interval_secs = 1\n", s.server.grpc_addr),
    )
    .unwrap();
    let mut cmd = Command::new(agent_binary());
    cmd.arg(&agent_toml).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).env("RUST_LOG", "warn");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OXMON_AGENT_") {
            cmd.env_remove(key);
        }
    }
    let _agent = Agent(cmd.spawn().unwrap());

    let b = Browser::start(1280, 900).await;

    // ---- without a session: every page goes to the login page, every API
    // call answers 401.
    every_api_call_needs_a_session(&s).await;
    for page in ["/", "/alerts", &format!("/hosts/{host}")] {
        b.goto(&format!("{base}{page}")).await;
        ready(&b, "login").await;
        let path = b.js("return location.pathname + location.search;", json!([])).await;
        assert!(path.as_str().unwrap().starts_with("/login"), "{page} → {path}");
    }
    b.screenshot(&shots.join("login.png")).await;

    // Wait until the agent has sent CPU values (its first cycle has none).
    let latest = format!("/v1/agents/{host}/latest");
    wait_server(
        async || {
            let (status, body, _) = s.get(&latest).await;
            status == 200 && body["data"].as_array().unwrap().iter().any(|m| m["metric_name"] == "cpu.usage")
        },
        "the agent's first CPU sample",
    )
    .await;

    // ---- log in through the form; the fleet page lists this machine.
    b.goto(&format!("{base}/login?next=/")).await;
    ready(&b, "login").await;
    b.type_into("#username", "admin").await;
    b.type_into("#password", ADMIN_PASSWORD).await;
    b.click("#login-submit").await;
    ready(&b, "fleet").await;
    let row = format!("tr[data-agent=\"{host}\"]");
    let cpu = b
        .wait_for(
            "this machine's CPU on the fleet page",
            20,
            &format!("const r = document.querySelector('{row}'); return r && r.querySelector('td.cpu').textContent.includes('%') && r.innerText;"),
        )
        .await;
    assert!(cpu.as_str().unwrap().contains(&host), "{cpu}");
    let status = b.js(&format!("return document.querySelector('{row} .badge').textContent;"), json!([])).await;
    assert_eq!(status, "active");
    // The session is a cookie the page's script cannot read.
    let cookies = b.js("return document.cookie;", json!([])).await;
    assert!(
        !cookies.as_str().unwrap().contains("oxmon_session") && cookies.as_str().unwrap().contains("oxmon_csrf"),
        "{cookies}"
    );
    b.screenshot(&shots.join("fleet.png")).await;

    // ---- the host page: charts hold this machine's data.
    b.click(&format!("{row} a")).await;
    ready(&b, "host").await;
    let charts = b
        .js(
            "return window.oxmon.charts.map(c => ({metric: c.metric, source: c.source, series: c.series, \
             points: c.points, last: c.data.slice(1).map(col => col.filter(v => v !== null).slice(-1)[0])}));",
            json!([]),
        )
        .await;
    let charts = charts.as_array().unwrap();
    let by_metric =
        |m: &str| charts.iter().find(|c| c["metric"] == m).unwrap_or_else(|| panic!("no {m} chart: {charts:?}"));
    for metric in
        ["cpu.usage", "cpu.core_usage", "memory.used_percent", "load.load_1", "load.uptime", "disk.used_percent"]
    {
        let c = by_metric(metric);
        assert_eq!(c["source"], "raw", "{c}");
        assert!(c["points"].as_u64().unwrap() >= 1, "{c}");
        for v in c["last"].as_array().unwrap() {
            assert!(v.as_f64().is_some(), "{metric}: {c}");
        }
    }
    let cpu = by_metric("cpu.usage")["last"][0].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as u64;
    assert!(by_metric("cpu.core_usage")["series"].as_u64().unwrap() >= cores.min(1), "one series per core");
    let canvases = b.js("return document.querySelectorAll('figure.chart canvas').length;", json!([])).await;
    assert!(canvases.as_u64().unwrap() >= 6, "{canvases}");
    b.screenshot(&shots.join("host.png")).await;

    // Seven days: the charts come from the downsampled endpoint.
    b.js("window.oxmon.requests = [];", json!([])).await;
    b.click("button[data-range=\"7d\"]").await;
    b.wait_for(
        "the 7-day charts",
        20,
        "return window.oxmon.ready && window.oxmon.charts.length > 0 && window.oxmon.charts.every(c => c.source === 'downsample');",
    )
    .await;
    let requests = b.js("return window.oxmon.requests;", json!([])).await;
    let requests: Vec<&str> = requests.as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(
        requests.iter().any(|r| r.starts_with("GET /v1/metrics/downsample?") && r.contains("cpu.usage")),
        "{requests:?}"
    );
    assert!(!requests.iter().any(|r| r.starts_with("GET /v1/metrics/series")), "{requests:?}");
    let pressed = b
        .js("return document.querySelector('button[data-range=\"7d\"]').getAttribute('aria-pressed');", json!([]))
        .await;
    assert_eq!(pressed, "true");
    b.screenshot(&shots.join("host-7d.png")).await;

    // ---- a breach reported over gRPC appears as an active alert, and is
    // acknowledged in the page.
    let rule = json!({"name": "browser breach", "rule_type": "threshold", "metric": "custom.temperature",
        "severity": "critical", "config_json": "{\"operator\":\"greater_than\",\"value\":50.0,\"duration_secs\":0}"});
    let (status, body) = s.call(Method::POST, "/v1/alerts/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    let reply = s.report(batch("breach-agent", vec![point("custom.temperature", &[], now_ms(), 80.0)])).await;
    assert!(reply.success, "{reply:?}");
    wait_server(async || !s.data("/v1/alerts/active").await.as_array().unwrap().is_empty(), "the alert").await;
    let id = s.data("/v1/alerts/active").await[0]["id"].as_str().unwrap().to_owned();
    b.click("header nav a[href=\"/alerts\"]").await;
    ready(&b, "alerts").await;
    let alert_row = format!("#active-alerts tr[data-alert=\"{id}\"]");
    b.wait_for("the active alert", 10, &format!("return document.querySelector('{alert_row}');")).await;
    b.screenshot(&shots.join("alerts.png")).await;
    b.click(&format!("{alert_row} button.ack")).await;
    b.wait_for(
        "the acknowledged alert",
        10,
        &format!("const r = document.querySelector('{alert_row}'); return r && r.dataset.status === '2';"),
    )
    .await;
    let active = s.data("/v1/alerts/active").await;
    let stored = active.as_array().unwrap().iter().find(|e| e["id"] == id.as_str()).unwrap();
    assert_eq!(stored["status"], 2, "acknowledged in the server: {stored}");

    // ---- a POST with the session cookie but without the CSRF token is
    // refused; with it the same request passes authentication.
    let without = b
        .js(
            "return fetch('/v1/alerts/history/x/acknowledge', {method: 'POST', credentials: 'include'}).then(r => r.status);",
            json!([]),
        )
        .await;
    assert_eq!(without, 403);
    let with = b
        .js(
            "const t = document.cookie.split('; ').find(c => c.startsWith('oxmon_csrf=')).split('=')[1]; \
             return fetch('/v1/alerts/history/x/acknowledge', {method: 'POST', headers: {'X-CSRF-Token': t}}).then(r => r.status);",
            json!([]),
        )
        .await;
    assert_eq!(with, 404);

    // ---- Chinese: every page renders from the catalog with no missing key.
    b.js("localStorage.setItem('oxmon.lang', 'zh');", json!([])).await;
    for (page, path) in
        [("fleet", "/".to_owned()), ("host", format!("/hosts/{host}")), ("alerts", "/alerts".to_owned())]
    {
        b.goto(&format!("{base}{path}")).await;
        ready(&b, page).await;
        let state = b
            .js("return {lang: document.documentElement.lang, missing: [...window.oxmon.missing], h1: document.querySelector('h1').textContent};", json!([]))
            .await;
        assert_eq!(state["lang"], "zh-CN", "{page}: {state}");
        assert_eq!(state["missing"], json!([]), "{page}: {state}");
        b.screenshot(&shots.join(format!("{page}-zh.png"))).await;
    }
    let nav = b.js("return document.querySelector('header nav').textContent;", json!([])).await;
    assert!(nav.as_str().unwrap().contains("告警"), "{nav}");
    b.js("localStorage.setItem('oxmon.lang', 'en');", json!([])).await;

    // ---- a phone: 375 px wide, no horizontal scrolling on any page.
    b.set_window(375, 812).await;
    for (page, path) in
        [("fleet", "/".to_owned()), ("host", format!("/hosts/{host}")), ("alerts", "/alerts".to_owned())]
    {
        b.goto(&format!("{base}{path}")).await;
        ready(&b, page).await;
        let sizes = b
            .js("return {inner: window.innerWidth, scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth};", json!([]))
            .await;
        let inner = sizes["inner"].as_u64().unwrap();
        assert!(inner <= 400, "the viewport is a phone's: {sizes}");
        assert!(
            sizes["scroll"].as_u64().unwrap() <= inner && sizes["body"].as_u64().unwrap() <= inner,
            "{page}: {sizes}"
        );
        b.screenshot(&shots.join(format!("{page}-375.png"))).await;
    }
    b.set_window(1280, 900).await;

    // ---- dark theme, then log out: the session is gone.
    b.goto(&format!("{base}/")).await;
    ready(&b, "fleet").await;
    b.click("#theme").await;
    let theme = b.js("return document.documentElement.dataset.theme;", json!([])).await;
    assert_eq!(theme, "dark");
    ready(&b, "fleet").await;
    b.screenshot(&shots.join("fleet-dark.png")).await;
    b.click("#logout").await;
    ready(&b, "login").await;
    let cookies = b.js("return document.cookie;", json!([])).await;
    assert!(!cookies.as_str().unwrap().contains("oxmon_csrf"), "{cookies}");
    b.goto(&format!("{base}/alerts")).await;
    ready(&b, "login").await;

    b.close().await;
    s.stop().await;
}
