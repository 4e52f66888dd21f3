//! One period under every reward model side by side: each person's rank
//! under each, who gains and who loses against `balanced`, and how much
//! the models agree (Spearman's rank correlation between each pair).

use crate::facts::Facts;
use crate::models::{Board, Model, Subjects, score_subjects};
use crate::rules::Rules;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub period: String,
    pub rules_version: String,
    pub models: Vec<Model>,
    /// Each person's rank under each model (in `models` order).
    pub ranks: Vec<Ranks>,
    /// Per model, the people it ranks highest above their `balanced` rank
    /// (winners) and lowest below it (losers), most first.
    pub shifts: Vec<Shift>,
    /// Spearman's ρ between each pair of models, over people.
    pub correlations: Vec<Correlation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Ranks {
    pub subject: String,
    pub ranks: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Moved {
    pub subject: String,
    /// Rank under `balanced` minus rank under the model: positive is a gain.
    pub places: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Shift {
    pub model: Model,
    pub winners: Vec<Moved>,
    pub losers: Vec<Moved>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Correlation {
    pub a: Model,
    pub b: Model,
    pub spearman: f64,
}

const SHOWN: usize = 5;

fn people_ranks(board: &Board) -> BTreeMap<String, u32> {
    board.scores.iter().filter(|s| s.subject.starts_with("user:")).map(|s| (s.subject.clone(), s.rank)).collect()
}

pub fn compare(facts: &Facts, rules: &Rules) -> Comparison {
    let subjects = Subjects::of(facts, rules);
    let boards: Vec<Board> = Model::ALL.iter().map(|m| score_subjects(*m, &subjects, facts, rules)).collect();
    let by_model: Vec<BTreeMap<String, u32>> = boards.iter().map(people_ranks).collect();
    let people: Vec<String> = by_model.first().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let rank_of = |m: usize, p: &str| by_model[m].get(p).copied().unwrap_or(0);
    let ranks = people
        .iter()
        .map(|p| Ranks { subject: p.clone(), ranks: (0..boards.len()).map(|m| rank_of(m, p)).collect() })
        .collect();
    let balanced = Model::ALL.iter().position(|m| *m == Model::Balanced).unwrap_or(0);
    let shifts = (0..boards.len())
        .filter(|m| *m != balanced)
        .map(|m| {
            let mut moved: Vec<Moved> = people
                .iter()
                .map(|p| Moved {
                    subject: p.clone(),
                    places: i64::from(rank_of(balanced, p)) - i64::from(rank_of(m, p)),
                })
                .collect();
            moved.sort_by(|a, b| b.places.cmp(&a.places).then_with(|| a.subject.cmp(&b.subject)));
            let winners = moved.iter().filter(|x| x.places > 0).take(SHOWN).cloned().collect();
            let losers = moved.iter().rev().filter(|x| x.places < 0).take(SHOWN).cloned().collect();
            Shift { model: Model::ALL[m], winners, losers }
        })
        .collect();
    let mut correlations = Vec::new();
    for a in 0..boards.len() {
        for b in a + 1..boards.len() {
            let xs: Vec<f64> = people.iter().map(|p| f64::from(rank_of(a, p))).collect();
            let ys: Vec<f64> = people.iter().map(|p| f64::from(rank_of(b, p))).collect();
            let rho = spearman(&xs, &ys);
            correlations.push(Correlation { a: Model::ALL[a], b: Model::ALL[b], spearman: crate::axes::round(rho, 4) });
        }
    }
    Comparison {
        period: facts.period.clone(),
        rules_version: rules.version(),
        models: Model::ALL.to_vec(),
        ranks,
        shifts,
        correlations,
    }
}

/// Spearman's ρ of two rankings, as the Pearson correlation of the ranks
/// (which handles ties); 0 when either does not vary.
pub fn spearman(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return 0.0;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(&xs[..n]), mean(&ys[..n]));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (xs[i] - mx, ys[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 { 0.0 } else { sxy / (sxx * syy).sqrt() }
}
