//! Open-loop load generator: starts requests on a fixed schedule, each in
//! its own task, so a slow answer never delays the next request (no
//! coordinated omission), and reports percentiles of time to first body
//! byte (for streams: time to first token) and time to the end, as JSON.
//! Latency counts from the moment a request is sent; how late the timer
//! started it (tokio's timer ticks in milliseconds) is reported apart as
//! `start_lag`, so it does not blur the comparison between targets.
//!
//! loadgen --url URL --body FILE [--rate N] [--duration S] [--header 'K: V']...
//!   --rate 0 means as fast as possible with --concurrency workers.
//!   --trace FILE writes one line per measured request: when it was due
//!   (ms since the measurement began) and its time to the end (ms), so a
//!   tail can be matched to what the server was doing at that moment.

use futures_util::StreamExt;
use std::time::{Duration, Instant};

struct Args {
    url: String,
    body: Vec<u8>,
    rate: f64,
    duration: Duration,
    concurrency: usize,
    headers: Vec<(String, String)>,
    warmup: Duration,
    trace: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        body: Vec::new(),
        rate: 100.0,
        duration: Duration::from_secs(10),
        concurrency: 64,
        headers: Vec::new(),
        warmup: Duration::from_secs(2),
        trace: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = val(),
            "--body" => a.body = std::fs::read(val()).expect("read body file"),
            "--rate" => a.rate = val().parse().expect("rate"),
            "--duration" => a.duration = Duration::from_secs_f64(val().parse().expect("duration")),
            "--warmup" => a.warmup = Duration::from_secs_f64(val().parse().expect("warmup")),
            "--concurrency" => a.concurrency = val().parse().expect("concurrency"),
            "--trace" => a.trace = Some(val()),
            "--header" => {
                let h = val();
                let (k, v) = h.split_once(':').expect("header as 'K: V'");
                a.headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.url.is_empty(), "--url is required");
    a
}

#[derive(Clone, Copy)]
struct Sample {
    sent: Instant,
    lag: Duration,
    first: Duration,
    total: Duration,
    ok: bool,
}

async fn one(client: &reqwest::Client, a: &Args, due: Instant) -> Sample {
    let mut req = client.post(&a.url).body(a.body.clone());
    for (k, v) in &a.headers {
        req = req.header(k, v);
    }
    let lag = due.elapsed();
    let due = Instant::now();
    let resp = match req.send().await {
        Ok(r) => r,
        Err(_) => return Sample { sent: due, lag, first: due.elapsed(), total: due.elapsed(), ok: false },
    };
    let ok = resp.status().is_success();
    let mut body = resp.bytes_stream();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) if !c.is_empty() && first.is_none() => first = Some(due.elapsed()),
            Ok(_) => {}
            Err(_) => {
                return Sample { sent: due, lag, first: first.unwrap_or(due.elapsed()), total: due.elapsed(), ok: false };
            }
        }
    }
    let total = due.elapsed();
    Sample { sent: due, lag, first: first.unwrap_or(total), total, ok }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    serde_json::json!({
        "p50_ms": pct(&v, 50.0), "p90_ms": pct(&v, 90.0), "p99_ms": pct(&v, 99.0),
        "p999_ms": pct(&v, 99.9), "max_ms": v.last().copied().unwrap_or(f64::NAN),
        "mean_ms": v.iter().sum::<f64>() / v.len().max(1) as f64,
    })
}

#[tokio::main]
async fn main() {
    let a = std::sync::Arc::new(args());
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).tcp_nodelay(true).build().expect("client");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, Sample)>();
    let start = Instant::now();
    let end = start + a.warmup + a.duration;
    if a.rate > 0.0 {
        let interval = Duration::from_secs_f64(1.0 / a.rate);
        let mut due = start;
        while due < end {
            tokio::time::sleep_until(due.into()).await;
            let (c, a2, tx) = (client.clone(), a.clone(), tx.clone());
            let measured = due >= start + a.warmup;
            let d = due;
            tokio::spawn(async move {
                let s = one(&c, &a2, d).await;
                let _ = tx.send((measured, s));
            });
            due += interval;
        }
    } else {
        for _ in 0..a.concurrency {
            let (c, a2, tx) = (client.clone(), a.clone(), tx.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let due = Instant::now();
                    let s = one(&c, &a2, due).await;
                    let _ = tx.send((due >= start + a2.warmup, s));
                }
            });
        }
    }
    drop(tx);
    let (mut first, mut total, mut lag, mut errors, mut n) = (Vec::new(), Vec::new(), Vec::new(), 0u64, 0u64);
    let mut trace = Vec::new();
    while let Some((measured, s)) = rx.recv().await {
        if !measured {
            continue;
        }
        n += 1;
        if !s.ok {
            errors += 1;
            continue;
        }
        if a.trace.is_some() {
            let at = s.sent.saturating_duration_since(start + a.warmup).as_secs_f64() * 1e3;
            trace.push((at, s.total.as_secs_f64() * 1e3));
        }
        lag.push(s.lag.as_secs_f64() * 1e3);
        first.push(s.first.as_secs_f64() * 1e3);
        total.push(s.total.as_secs_f64() * 1e3);
    }
    if let Some(path) = &a.trace {
        trace.sort_by(|x, y| x.0.total_cmp(&y.0));
        let lines: String = trace.iter().map(|(at, t)| format!("{at:.3} {t:.3}\n")).collect();
        std::fs::write(path, lines).expect("write trace");
    }
    let secs = a.duration.as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "url": a.url, "target_rate": a.rate, "requests": n, "errors": errors,
            "achieved_rate": n as f64 / secs,
            "first_byte": summary(first), "total": summary(total), "start_lag": summary(lag),
        })
    );
}
