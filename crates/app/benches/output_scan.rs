//! What output scanning costs (`cargo bench -p tokenwise-app --bench output_scan`):
//! a whole reply scanned once, and the same reply streamed through a
//! window in chunks of a few bytes (a token or so each), per reply and
//! in MB/s, one thread. Results go in docs/benchmarks.md.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;
use tokenwise_app::guard::Guard;
use tokenwise_app::output::{OutputRule, OutputScan, Window};
use tokenwise_policy::DataClass;

fn reply(bytes: usize, with_secret: bool) -> String {
    let prose = "The refund was issued on Tuesday and should reach the customer's account within five \
                 business days. If it has not arrived by then, ask them to reply to this thread. ";
    let mut s = String::new();
    while s.len() < bytes {
        s.push_str(prose);
    }
    if with_secret {
        s.insert_str(bytes / 2, " their key AKIAZ3MQ7RTXK4PLW2QD and mail jane.doe@example.com ");
    }
    s
}

fn main() {
    let (_, dlp) = tokenwise_policy::default_dlp();
    let guard = Guard::new(&dlp).expect("scanner");
    let rule = OutputRule { ceiling: DataClass(1), mask: true };
    let mk = || OutputScan::new(&guard, &dlp, rule);
    for (size, secret) in [(2_048, false), (2_048, true), (16_384, false)] {
        let text = reply(size, secret);
        let n = if size > 4_096 { 500 } else { 4_000 };
        let t = Instant::now();
        for _ in 0..n {
            let mut s = mk();
            std::hint::black_box(s.text(&text));
        }
        let whole = t.elapsed() / n;
        for chunk in [4usize, 16] {
            let t = Instant::now();
            let mut out_len = 0;
            for _ in 0..n {
                let mut s = mk();
                let mut w = Window::default();
                let mut at = 0;
                while at < text.len() {
                    let mut end = (at + chunk).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    out_len += w.push(&mut s, &text[at..end]).len();
                    at = end;
                }
                out_len += w.finish(&mut s).len();
            }
            let per = t.elapsed() / n;
            let mbs = text.len() as f64 / per.as_secs_f64() / 1e6;
            println!(
                "reply {size} B{}: whole {whole:.1?}; streamed in {chunk}-byte chunks {per:.1?} ({mbs:.0} MB/s) [{out_len}]",
                if secret { " with a key and an email" } else { "" }
            );
        }
    }
}
