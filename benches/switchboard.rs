//! `scripts/bench`: figures with baselines measured in the same run, reported as medians with
//! min/max over several runs, and as ratios to the baseline (machines here are noisy).
//!
//! Figures so far:
//! - `app_first_frame_ms`: process start → first frame of Switchboard, against an empty eframe
//!   window built with the same renderer and features (`empty-window`).
//! - `app_rss_after_lookup_mb`: resident memory of Switchboard after its first lookup (HTTP and
//!   gRPC against the in-process demo), against the empty window's after its first frame.
//!
//! Needs a display (scripts/bench starts Xvfb). Flags: `--quick` (fewer runs), `--json` (one
//! JSON object per figure: name, value, unit, baseline, ratio, min, max, runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Figure {
    name: &'static str,
    unit: &'static str,
    samples: Vec<f64>,
    baseline: Option<Vec<f64>>,
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min(s: &[f64]) -> f64 {
    s.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(s: &[f64]) -> f64 {
    s.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

struct WindowRun {
    first_frame_ms: f64,
    rss_mb: f64,
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts `bin`, times its first frame, waits for `ready_line`, reads its RSS, kills it.
fn run_window(bin: &str, args: &[&str], ready_line: &str) -> WindowRun {
    let data_home = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .env("SWITCHBOARD_BENCH", "1")
        .env("XDG_DATA_HOME", &data_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel(64);
    std::thread::Builder::new()
        .name("bench-stdout".into())
        .spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((line, Instant::now())).is_err() {
                    return;
                }
            }
        })
        .unwrap();
    let deadline = start + Duration::from_secs(60);
    let mut first_frame_ms = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (line, at) = rx.recv_timeout(left).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{bin} did not print {ready_line:?} within 60 s (is DISPLAY set?)")
        });
        if line == "bench: first frame" {
            first_frame_ms = Some(at.duration_since(start).as_secs_f64() * 1000.0);
        }
        if line == ready_line && first_frame_ms.is_some() {
            break;
        }
    }
    let rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data_home);
    WindowRun {
        first_frame_ms: first_frame_ms.unwrap_or(f64::NAN),
        rss_mb: rss,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 7 };
    if std::env::var_os("DISPLAY").is_none() {
        eprintln!("bench: no DISPLAY; run it through scripts/bench (which starts Xvfb)");
        std::process::exit(2);
    }
    let app = env!("CARGO_BIN_EXE_switchboard");
    let empty = env!("CARGO_BIN_EXE_empty-window");

    let mut app_runs = Vec::new();
    let mut empty_runs = Vec::new();
    for _ in 0..runs {
        // Interleave so that drift on a noisy machine hits both alike.
        empty_runs.push(run_window(empty, &[], "bench: first frame"));
        app_runs.push(run_window(app, &["--script", "lookup"], "script: done"));
    }
    let figures = vec![
        Figure {
            name: "app_first_frame_ms",
            unit: "ms",
            samples: app_runs.iter().map(|r| r.first_frame_ms).collect(),
            baseline: Some(empty_runs.iter().map(|r| r.first_frame_ms).collect()),
        },
        Figure {
            name: "app_rss_after_lookup_mb",
            unit: "MB",
            samples: app_runs.iter().map(|r| r.rss_mb).collect(),
            baseline: Some(empty_runs.iter().map(|r| r.rss_mb).collect()),
        },
    ];
    report(&figures, json);
}

fn report(figures: &[Figure], json: bool) {
    if !json {
        println!(
            "{:<28} {:>10} {:>10} {:>7}   {:>19}   runs",
            "figure", "median", "baseline", "ratio", "min..max"
        );
    }
    for f in figures {
        let value = median(&f.samples);
        let baseline = f.baseline.as_deref().map(median);
        let ratio = baseline.map(|b| value / b);
        if json {
            let mut obj = serde_json::json!({
                "name": f.name, "value": round(value), "unit": f.unit,
                "min": round(min(&f.samples)), "max": round(max(&f.samples)), "runs": f.samples.len(),
            });
            if let (Some(b), Some(r)) = (baseline, ratio) {
                obj["baseline"] = serde_json::json!(round(b));
                obj["ratio"] = serde_json::json!(round(r));
            }
            println!("{obj}");
        } else {
            println!(
                "{:<28} {:>7.1} {:<2} {:>10} {:>7}   {:>8.1}..{:<8.1}   {}",
                f.name,
                value,
                f.unit,
                baseline.map_or("-".to_string(), |b| format!("{b:.1}")),
                ratio.map_or("-".to_string(), |r| format!("{r:.2}")),
                min(&f.samples),
                max(&f.samples),
                f.samples.len()
            );
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
