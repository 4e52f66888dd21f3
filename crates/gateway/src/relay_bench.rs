//! What relaying a streamed frame costs the pump, one thread: reading it
//! for usage and text (`observe`) and, with output scanning, through the
//! scan (`StreamScan::frame`). Typical streams of ~30 frames (OpenAI chat,
//! Anthropic messages, Responses), scanning on and off. Run with
//! `nice -n 19 cargo test --release -p tokenwise-gateway relay_cost -- --ignored --nocapture`.

use crate::outscan::StreamScan;
use crate::streams::{anthropic_stream, openai_stream, responses_stream, words};
use bytes::Bytes;
use std::time::Instant;
use tokenwise_app::guard::Guard;
use tokenwise_app::output::{OutputRule, OutputScan};
use tokenwise_policy::DataClass;
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::{Seen, observe};

#[test]
#[ignore = "a micro-benchmark: run it by name with --ignored --nocapture, in release"]
fn relay_cost() {
    let (_, dlp) = tokenwise_policy::default_dlp();
    let guard = Guard::new(&dlp).unwrap();
    let rule = OutputRule { ceiling: DataClass(1), mask: true };
    let words = words();
    let streams = [
        ("openai chat", Dialect::OpenAiChat { client_wants_usage: false }, openai_stream(&words)),
        ("anthropic", Dialect::Anthropic, anthropic_stream(&words)),
        ("responses", Dialect::OpenAiResponses, responses_stream(&words)),
    ];
    // The fastest of several rounds: the machine is shared.
    let (rounds, n) = (7, 1_000u32);
    // What the windows' scanning itself costs a stream (the floor of any relay).
    let mut best = std::time::Duration::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            let mut s = OutputScan::new(&guard, &dlp, rule);
            let mut w = tokenwise_app::output::Window::default();
            let mut out = String::new();
            for word in &words {
                out.push_str(&w.push(&mut s, word));
            }
            out.push_str(&w.finish(&mut s));
            std::hint::black_box(out);
        }
        best = best.min(t.elapsed() / n);
    }
    println!("the reply's text through a window alone: {best:>9.1?} a stream");
    for (name, dialect, frames) in &streams {
        for scanning in [false, true] {
            let mut sink = 0usize;
            let mut best = std::time::Duration::MAX;
            for _ in 0..rounds {
                let t = Instant::now();
                for _ in 0..n {
                    let mut seen = Seen::default();
                    let mut scan = scanning.then(|| StreamScan::new(OutputScan::new(&guard, &dlp, rule)));
                    for f in frames {
                        observe(*dialect, f, &mut seen);
                        let out = match scan.as_mut() {
                            Some(s) => s.frame(*dialect, f.clone()),
                            None => vec![f.clone()],
                        };
                        sink += out.iter().map(Bytes::len).sum::<usize>();
                    }
                    if let Some(s) = scan.as_mut() {
                        sink += s.flush(*dialect).len();
                    }
                    sink += seen.text.len();
                }
                best = best.min(t.elapsed() / n);
            }
            let per_frame = best / frames.len() as u32;
            println!(
                "{name:<12} {} frames, scanning {:<3}: {best:>9.1?} a stream, {per_frame:>7.1?} a frame [{sink}]",
                frames.len(),
                if scanning { "on" } else { "off" },
            );
        }
    }
}
