//! Scores, reward models, comparisons and badges for one period, computed
//! from the period's [`Facts`] under a version of the [`Rules`]: a pure
//! function, so a past period re-scores identically under its version.
//!
//! The rule the design follows is "if the metric can be gamed, it will be":
//! spend only ever lowers efficiency, outcomes count only once not rejected
//! and less each time they repeat, violations are counted per outcome so
//! volume cannot dilute them, and the composite is a geometric mean so no
//! axis can carry another. Exploration earns on learning outcomes (templates
//! created or promoted), production on operational ones, so a sandbox cannot
//! claim the value of production work. The properties are tested in `tests/`.

pub mod axes;
pub mod badges;
pub mod compare;
pub mod facts;
pub mod models;
pub mod rules;
pub mod tally;

pub use axes::Line;
pub use compare::{Comparison, compare};
pub use facts::{Activity, Facts, Outcome, Status, TemplateFacts, UseCaseFacts};
pub use models::{Board, Model, Score, Subjects, score, score_subjects};
pub use rules::Rules;
