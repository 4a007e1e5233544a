//! A small WebDriver client (the W3C protocol over HTTP with reqwest) and a
//! headless Chromium driven by Debian's `chromedriver`, for the console's
//! browser tests. The driver runs on a free loopback port and is killed
//! when the [`Browser`] is dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|n| std::env::split_paths(&path).map(|d| d.join(n)).find(|p| p.exists()))
}

impl Browser {
    /// Starts chromedriver and one headless Chromium session. Fails with a
    /// clear message when either is not installed.
    pub async fn start(width: u32, height: u32) -> Self {
        let driver = find(&["chromedriver"]).unwrap_or_else(|| {
            panic!("chromedriver is not installed: run scripts/install-test-deps (Debian package chromium-driver)")
        });
        let chromium = find(&["chromium", "chromium-browser"]).unwrap_or_else(|| {
            panic!("chromium is not installed: run scripts/install-test-deps (Debian package chromium)")
        });
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut b =
            Self { driver, http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}"), _profile: profile };
        let started = Instant::now();
        loop {
            if let Ok(r) = b.http.get(format!("{}/status", b.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--lang=en-US", "--hide-scrollbars",
                    format!("--user-data-dir={}", b._profile.path().display()),
                    format!("--window-size={width},{height}")],
                "prefs": {"intl.accept_languages": "en-US,en"}
            }
        }}});
        let resp: Value =
            b.http.post(format!("{}/session", b.base)).json(&caps).send().await.unwrap().json().await.unwrap();
        let id = resp["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {resp}"));
        b.base = format!("{}/session/{id}", b.base);
        b
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let method_has_body = method != reqwest::Method::GET;
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if method_has_body {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let resp: Value = req.send().await.unwrap().json().await.unwrap();
        if resp["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", resp["value"]);
        }
        resp["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    /// Polls `script` until it returns a truthy value; returns it.
    pub async fn wait_for(&self, what: &str, secs: u64, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.js(script, json!([])).await;
            let truthy = !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            assert!(started.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn element(&self, css: &str) -> String {
        let v = self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v[ELEMENT_KEY].as_str().unwrap().to_owned()
    }

    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), None).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({ "text": text }))).await;
    }

    pub async fn set_window(&self, width: u32, height: u32) {
        self.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
    }

    /// Writes a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
