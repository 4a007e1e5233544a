//! Agent footprint benchmark (`scripts/bench-agent`): runs the real `oxmon-agent` binary with
//! every collector on over the collector's fixtures (the bare-metal host's procfs and hwmon
//! sensors, the 40-pod Kubernetes node's cgroups and kubelet log links), reporting every second to
//! an in-process gRPC sink that acknowledges each batch, and prints its RSS and CPU per cycle.
//!
//! `--agent-bin PATH` (required), `--cycles N` (30). CPU is the on-CPU time of all the agent's
//! threads (`/proc/<pid>/task/*/schedstat`, ns) from the 3rd acknowledged batch to the last,
//! divided by the batches, so start-up is excluded; RSS is `VmRSS` at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oxmon_common::proto::metric_service_server::{MetricService, MetricServiceServer};
use oxmon_common::proto::{MetricBatchProto, ReportResponse};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// What the sink saw: batches acknowledged, points in the last one.
#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    points: AtomicUsize,
}

/// Acknowledges every batch and counts it.
struct Sink(Arc<Counts>);

#[tonic::async_trait]
impl MetricService for Sink {
    async fn report_metrics(&self, request: Request<MetricBatchProto>) -> Result<Response<ReportResponse>, Status> {
        let batch = request.into_inner();
        self.0.points.store(batch.data_points.len(), Ordering::SeqCst);
        self.0.batches.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(ReportResponse { success: true, message: "ok".into(), ..Default::default() }))
    }
}

/// The collector's fixtures, assembled in `dir`: sysfs = the bare-metal host's `class/hwmon` +
/// the Kubernetes node's `fs/cgroup`; rootfs = every mount point of the fixture's mount table
/// (so each `statvfs` succeeds) + the node's log links and runtime files.
fn node_fixture(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../collector/tests/fixtures").canonicalize().unwrap();
    let sysfs = dir.join("sys");
    std::fs::create_dir_all(sysfs.join("class")).unwrap();
    std::os::unix::fs::symlink(fixtures.join("sys/class/hwmon"), sysfs.join("class/hwmon")).unwrap();
    std::os::unix::fs::symlink(fixtures.join("k8s/sys/fs"), sysfs.join("fs")).unwrap();
    let rootfs = dir.join("root");
    let mounts = std::fs::read_to_string(fixtures.join("proc/1/mounts")).unwrap();
    for line in mounts.lines() {
        if let Some(point) = line.split(' ').nth(1) {
            let point = point.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\");
            let _ = std::fs::create_dir_all(rootfs.join(point.trim_start_matches('/')));
        }
    }
    // The kubelet's log links and the runtimes' files naming containers.
    for path in ["var/log", "var/lib/docker/containers", "var/lib/containers"] {
        let link = rootfs.join(path);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let _ = std::fs::remove_dir(&link);
        std::os::unix::fs::symlink(fixtures.join("k8s/root").join(path), link).unwrap();
    }
    (fixtures.join("proc"), sysfs, rootfs.clone(), rootfs.join("var/log"))
}

fn cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    ns as f64 / 1e9
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut bin, mut cycles) = (None, 30u64);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--agent-bin" => bin = args.next(),
            "--cycles" => cycles = args.next().and_then(|n| n.parse().ok()).expect("--cycles N"),
            other => panic!("unknown argument {other}; usage: footprint --agent-bin PATH [--cycles N]"),
        }
    }
    let bin = bin.expect("--agent-bin PATH is required");
    let bin = std::fs::canonicalize(&bin).unwrap_or_else(|e| panic!("--agent-bin {bin}: {e}"));

    let sink = Arc::new(Counts::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = MetricServiceServer::new(Sink(sink.clone()));
    tokio::spawn(
        tonic::transport::Server::builder().add_service(service).serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().unwrap();
    let (procfs, sysfs, rootfs, logs) = node_fixture(dir.path());
    let mut child = std::process::Command::new(bin)
        .env("OXMON_AGENT_SERVER_ENDPOINT", addr.to_string())
        .env("OXMON_AGENT_AGENT_ID", "footprint-agent")
        .env("OXMON_AGENT_COLLECTION_INTERVAL_SECS", "1")
        .env("OXMON_AGENT_PROCFS_PATH", procfs)
        .env("OXMON_AGENT_SYSFS_PATH", sysfs)
        .env("OXMON_AGENT_ROOTFS_PATH", rootfs)
        .env("OXMON_AGENT_CONTAINER_LOG_PATH", logs)
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .spawn()
        .expect("start oxmon-agent");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(cycles + 30);
    let (mut first, mut last) = (None, (0, 0.0));
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = sink.batches.load(Ordering::SeqCst);
        let cpu = cpu_seconds(pid);
        if n >= 3 && first.is_none() {
            first = Some((n, cpu));
        }
        last = (n, cpu);
        if n >= cycles {
            break;
        }
    }
    let rss = rss_kb(pid);
    let _ = child.kill();
    let _ = child.wait();
    let (n0, c0) = first.expect("the agent never reported");
    println!(
        "agent on the 40-pod fixture, every collector on: {} points per cycle; RSS {:.2} MB after {} cycles; \
         CPU {:.3} ms per cycle (all threads, cycles {}..{})",
        sink.points.load(Ordering::SeqCst),
        rss as f64 / 1024.0,
        last.0,
        (last.1 - c0) * 1000.0 / (last.0 - n0).max(1) as f64,
        n0,
        last.0
    );
}
