//! Any bytes as an upstream's event stream, cut into chunks where the
//! input says (as the network would), read by the gateway's SSE parser in
//! each dialect: no panic; frames come off whole (each ends with a blank
//! line) and, with what is left over, add up to the bytes sent.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::{Seen, data_of, next_frame, observe};

const DIALECTS: [Dialect; 4] = [
    Dialect::OpenAiChat { client_wants_usage: false },
    Dialect::OpenAiChat { client_wants_usage: true },
    Dialect::Anthropic,
    Dialect::OpenAiResponses,
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, stream)) = data.split_first() else { return };
    let dialect = DIALECTS[usize::from(head & 3)];
    // Chunks of 1..=16 bytes, their sizes from the top bits of the head.
    let step = usize::from(head >> 4) + 1;
    let (mut buf, mut seen, mut out) = (BytesMut::new(), Seen::default(), 0usize);
    for chunk in stream.chunks(step) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = next_frame(&mut buf) {
            assert!(frame.ends_with(b"\n\n") || frame.ends_with(b"\n\r\n"), "{frame:?}");
            out += frame.len();
            let _ = data_of(&frame);
            let _ = observe(dialect, &frame, &mut seen);
        }
    }
    assert_eq!(out + buf.len(), stream.len());
    let _ = seen.exact(dialect);
    let _ = seen.reported_input();
});
