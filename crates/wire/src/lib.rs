//! The wire formats of the model APIs the gateway speaks — OpenAI chat
//! completions, responses and embeddings, Anthropic messages — as pure functions over
//! JSON and bytes: no HTTP, no I/O.
//!
//! - [`prompt`]: every text a request carries to the model, with where it
//!   sits (so a scan sees all of it and redaction writes back in place),
//!   and the bytes that are not text; driven by the tables in `tables`.
//! - [`output`]: how much a request may generate, by the field the upstream
//!   obeys.
//! - [`usage`], [`answer`], [`sse`]: token usage and generated text from a
//!   whole answer or a stream.
//! - [`translate`]: OpenAI chat ⇄ Anthropic messages.
//! - [`validate`]: the fields the gateway acts on (output limits, `n`,
//!   `stream`, messages and their roles), refused by name when out of shape.

pub mod answer;
mod api;
pub mod output;
pub mod prompt;
mod rules;
pub mod sse;
mod tables;
pub mod translate;
pub mod usage;
pub mod validate;

pub use answer::Dialect;
pub use api::{ANTHROPIC_VERSION, Api};
pub use output::{OutputBound, output_bound, output_field};
pub use prompt::{Prompt, Slot, WalkError, walk};
pub use validate::{Invalid, MAX_OUTPUT_TOKENS, validate};
