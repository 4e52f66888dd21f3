//! The simulator behind `tokenwise demo`: a synthetic company (the people of
//! a policy, each cast as a persona) and a month of their work as a plan of
//! actions — model calls in the shapes real tools send, outcomes claimed,
//! budget exceptions asked for — that the demo sends through the real
//! gateway and API. Everything follows from the policy and a seed, so the
//! same seed plans the same month; nothing here does I/O.
//!
//! Honest personas do their work the way the policy hopes; gaming personas
//! each try one of the strategies a token leaderboard rewards (burning
//! tokens on dear models, repeating a prompt, splitting a task into many
//! calls, claiming work not done, pasting secrets, dodging budgets with
//! exceptions). Whether the product rewards the former and not the latter
//! is what the demo shows.

pub mod cast;
pub mod persona;
pub mod plan;
pub mod text;

pub use cast::{Company, Person, cast};
pub use persona::Persona;
pub use persona::Style;
pub use plan::{Action, Call, Claim, Day, Feedback, Format, day, month};
