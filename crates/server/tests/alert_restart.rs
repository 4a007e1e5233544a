//! Alert evaluation off the acknowledgement path, across restarts of the
//! real `oxmon-server` binary: a batch is acknowledged while its alert
//! events cannot be stored; the server is killed (SIGKILL); the next start
//! evaluates the stored sample and stores its event once; a later start
//! evaluates nothing again.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{batch, now_ms, point};

/// A running server binary and the log lines it has printed so far.
struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    grpc: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oxmon-server"))
            .env("OXMON_SERVER_LISTEN_ADDRESS", "127.0.0.1")
            .env("OXMON_SERVER_GRPC_PORT", "0")
            .env("OXMON_SERVER_HTTP_PORT", "0")
            .env("OXMON_SERVER_DATA_DIR", data)
            .env("OXMON_SERVER_AUTH__DEFAULT_PASSWORD", "a-test-password")
            .env("OXMON_SERVER_CERT_CHECK__ENABLED", "false")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .current_dir(data.parent().unwrap())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let started = Instant::now();
        let grpc = loop {
            let found = log.lock().unwrap().iter().find(|l| l.contains("oxmon-server started")).cloned();
            if let Some(line) = found {
                let addr = line.split("grpc_addr=").nth(1).unwrap().split_whitespace().next().unwrap();
                break format!("http://{addr}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "server did not start: {:?}", log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        };
        Server { child, log, grpc }
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    fn terminate(mut self) {
        assert!(Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{:?}", self.log.lock().unwrap());
    }
}

fn count_events(data: &Path, rule: &str) -> i64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let c = rusqlite::Connection::open_with_flags(data.join("cert.db"), flags).unwrap();
    c.query_row("SELECT count(*) FROM alert_events WHERE rule_name = ?1", [rule], |r| r.get(0)).unwrap()
}

const REPLAYED: &str = "queued samples not yet evaluated by the alert engine are replayed";

#[tokio::test]
async fn an_acknowledged_sample_is_evaluated_once_across_a_crash_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // Run 1: a fresh install (default rules: "Disk critical" fires on one
    // sample above 95). The test holds cert.db's write lock, so no alert
    // event can be stored; the batch is acknowledged all the same, since the
    // ack waits for the sample's commit only.
    let server = Server::start(&data);
    let lock = rusqlite::Connection::open(data.join("cert.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let channel = tonic::transport::Channel::from_shared(server.grpc.clone()).unwrap().connect().await.unwrap();
    let mut client = oxmon_common::proto::metric_service_client::MetricServiceClient::new(channel);
    let started = Instant::now();
    let reply = client
        .report_metrics(batch("crash-host", vec![point("disk.used_percent", &[("mount", "/")], now_ms(), 99.0)]))
        .await
        .unwrap()
        .into_inner();
    assert!(reply.success, "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "the ack waited for the alert store");
    // Let the engine evaluate it; its events wait for the lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert_eq!(count_events(&data, "Disk critical"), 0, "nothing was stored before the crash");

    // Run 2: the stored sample the engine had not recorded is replayed and
    // its event stored once. A graceful stop stores the cursor.
    let server = Server::start(&data);
    assert!(server.logged(REPLAYED), "{:?}", server.log.lock().unwrap());
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_events(&data, "Disk critical") == 0 {
        assert!(Instant::now() < deadline, "the replayed sample raised no event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.terminate();
    assert_eq!(count_events(&data, "Disk critical"), 1);

    // Run 3: nothing is evaluated twice.
    let server = Server::start(&data);
    assert!(!server.logged(REPLAYED), "{:?}", server.log.lock().unwrap());
    server.terminate();
    assert_eq!(count_events(&data, "Disk critical"), 1);
}
