//! Who the simulated people are, and how each kind works.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    /// Few, short calls on the approved template and the default model.
    EfficientExpert,
    Average,
    /// More calls, less often on a template, some escalations.
    Newcomer,
    /// Works in an exploration use case; its outcomes are templates created.
    Explorer,
    /// Wrote a template that other teams adopt.
    TemplateAuthor,
    /// Huge contexts and the dearest allowed model for simple tasks.
    TokenBurner,
    /// Sends the same prompt again and again and claims each as an outcome.
    PromptRepeater,
    /// Many small calls for each outcome.
    WorkflowSplitter,
    /// Claims outcomes for work it did not do; managers reject them.
    OutcomeInflater,
    /// Pastes card numbers, secrets and personal data into prompts.
    DataLeaker,
    /// Works far over budget and asks for exceptions to carry on.
    ExceptionAbuser,
}

impl Persona {
    pub const HONEST: [Persona; 5] =
        [Persona::EfficientExpert, Persona::Average, Persona::Newcomer, Persona::Explorer, Persona::TemplateAuthor];
    pub const GAMING: [Persona; 6] = [
        Persona::TokenBurner,
        Persona::PromptRepeater,
        Persona::WorkflowSplitter,
        Persona::OutcomeInflater,
        Persona::DataLeaker,
        Persona::ExceptionAbuser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Persona::EfficientExpert => "efficient_expert",
            Persona::Average => "average",
            Persona::Newcomer => "newcomer",
            Persona::Explorer => "explorer",
            Persona::TemplateAuthor => "template_author",
            Persona::TokenBurner => "token_burner",
            Persona::PromptRepeater => "prompt_repeater",
            Persona::WorkflowSplitter => "workflow_splitter",
            Persona::OutcomeInflater => "outcome_inflater",
            Persona::DataLeaker => "data_leaker",
            Persona::ExceptionAbuser => "exception_abuser",
        }
    }

    pub fn gaming(self) -> bool {
        Persona::GAMING.contains(&self)
    }

    /// How this persona works, in numbers the plan draws from.
    pub fn style(self) -> Style {
        let base = Style {
            tasks: (1, 3),
            calls: (2, 4),
            words: (400, 1_200),
            template: 0.7,
            dear_model: false,
            repeat: false,
            fake_claims: 0,
            leak: 0.0,
            quality: (3, 5),
            escalate: 0.05,
            stream: 0.4,
            exceptions: false,
            cached_context: 0,
            crunch: None,
        };
        match self {
            Persona::EfficientExpert => {
                Style { calls: (1, 2), words: (250, 600), template: 0.95, quality: (4, 5), escalate: 0.0, ..base }
            }
            Persona::Average => base,
            Persona::Newcomer => {
                Style { calls: (3, 6), words: (800, 2_000), template: 0.3, quality: (2, 4), escalate: 0.2, ..base }
            }
            Persona::Explorer => Style { tasks: (1, 2), calls: (3, 6), words: (600, 1_500), template: 0.0, ..base },
            Persona::TemplateAuthor => Style { calls: (1, 3), template: 1.0, quality: (4, 5), ..base },
            // The whole repository in every call's system prompt: the
            // provider's cache makes it cheap per call, the token count huge.
            Persona::TokenBurner => Style {
                calls: (3, 6),
                words: (2_000, 4_000),
                template: 0.2,
                dear_model: true,
                cached_context: 60_000,
                ..base
            },
            Persona::PromptRepeater => Style { tasks: (10, 16), calls: (1, 1), repeat: true, template: 0.0, ..base },
            Persona::WorkflowSplitter => Style { calls: (12, 20), words: (80, 200), ..base },
            Persona::OutcomeInflater => Style { tasks: (1, 1), calls: (1, 1), fake_claims: 3, ..base },
            Persona::DataLeaker => Style { leak: 0.5, ..base },
            Persona::ExceptionAbuser => Style {
                tasks: (3, 5),
                words: (1_500, 3_000),
                dear_model: true,
                exceptions: true,
                crunch: Some(Crunch { every_days: 14, first_day: 5, calls: 70, words: 40_000 }),
                ..base
            },
        }
    }
}

/// The numbers behind a persona's day. Ranges are inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Tasks (units of work, each with its task id) per working day.
    pub tasks: (u32, u32),
    /// Calls per task.
    pub calls: (u32, u32),
    /// Words of context per call.
    pub words: (u32, u32),
    /// Chance a task runs on its use case's approved template.
    pub template: f64,
    /// The dearest model the use case allows instead of its default.
    pub dear_model: bool,
    /// Every call the same text.
    pub repeat: bool,
    /// Outcomes claimed per day with no call behind them.
    pub fake_claims: u32,
    /// Chance a call carries data the policy protects.
    pub leak: f64,
    pub quality: (u8, u8),
    pub escalate: f64,
    /// Chance a call is streamed.
    pub stream: f64,
    /// Asks for a budget exception when refused.
    pub exceptions: bool,
    /// Words of one fixed document sent as every call's system prompt.
    pub cached_context: u32,
    /// Now and then, a day of bulk work far over anyone's daily budget.
    pub crunch: Option<Crunch>,
}

impl Style {
    /// How a person works under a pilot that rewards efficiency: fewer
    /// calls a task, half the context, the approved template most of the
    /// time, the use case's default model.
    pub fn under_pilot(self) -> Style {
        let (lo, hi) = self.calls;
        Style {
            calls: (lo, lo.max(lo.midpoint(hi))),
            words: (self.words.0 / 2, self.words.1 / 2),
            template: self.template.max(0.8),
            dear_model: false,
            ..self
        }
    }
}

/// A batch job on a day of its own: `calls` calls of `words` words each,
/// on day `first_day` and every `every_days` after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crunch {
    pub every_days: u16,
    pub first_day: u16,
    pub calls: u32,
    pub words: u32,
}

impl Crunch {
    pub fn on(&self, day: u16) -> bool {
        day >= self.first_day && (day - self.first_day).is_multiple_of(self.every_days.max(1))
    }
}
