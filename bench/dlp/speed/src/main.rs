//! speed FILE... : for each file, scans it again and again on one thread for
//! about two seconds and reports MB/s and findings; then cuts the last file
//! into 4 KiB prompts and reports the latency of scanning one (p50, p99).
//! Prints one JSON object per measurement. `cpu_mb_per_s` divides by the
//! time this thread was on a CPU (Linux schedstat), not the wall clock:
//! on a shared, busy machine it is the steadier figure.

use std::time::{Duration, Instant};
use tokenwise_dlp::{Scanner, ScannerConfig, Term};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let scanner = Scanner::new(&ScannerConfig {
        terms: vec![
            Term { text: "Project Apollo".into(), marker: false },
            Term { text: "Helios".into(), marker: false },
            Term { text: "Themis".into(), marker: false },
            Term { text: "ACME CONFIDENTIAL".into(), marker: true },
            Term { text: "ATTORNEY-CLIENT PRIVILEGED".into(), marker: true },
        ],
    })
    .expect("scanner");
    let mut out = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read input");
        // Warm up, then measure.
        scanner.scan_into(&text, &mut out);
        let start = Instant::now();
        let cpu_start = cpu_ns();
        let mut rounds = 0u64;
        while start.elapsed() < Duration::from_secs(2) || rounds < 3 {
            scanner.scan_into(&text, &mut out);
            rounds += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu_secs = cpu_ns().zip(cpu_start).map(|(b, a)| (b - a) as f64 / 1e9);
        let mb = text.len() as f64 * rounds as f64 / 1e6;
        println!(
            "{}",
            serde_json::json!({"file": f, "bytes": text.len(), "rounds": rounds, "mb_per_s": mb / secs,
                               "cpu_mb_per_s": cpu_secs.map(|c| mb / c), "findings": out.len()})
        );
    }
    if let Some(last) = files.last() {
        let text = std::fs::read_to_string(last).expect("read input");
        let mut chunks = Vec::new();
        let mut at = 0;
        while at + 4096 <= text.len() {
            let mut end = at + 4096;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            chunks.push(&text[at..end]);
            at = end;
        }
        let mut lat: Vec<f64> = Vec::new();
        for _ in 0..20 {
            for c in &chunks {
                let t = Instant::now();
                scanner.scan_into(c, &mut out);
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        lat.sort_by(f64::total_cmp);
        let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
        println!(
            "{}",
            serde_json::json!({"file": last, "prompt_bytes": 4096, "prompts": lat.len(),
                               "p50_us": p(0.5), "p99_us": p(0.99), "max_us": lat.last()})
        );
    }
}

/// Nanoseconds this thread has run on a CPU, where Linux tells.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
