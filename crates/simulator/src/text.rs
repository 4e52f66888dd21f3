//! The words of simulated prompts: a request in the use case's terms,
//! context to reach the persona's length, and — for a data leaker — the
//! kind of thing people paste by mistake. Values are made up but valid in
//! form (card numbers pass Luhn, keys have their real shapes), so the
//! scanner treats them as it would the real thing.

use rand::Rng;
use rand::rngs::StdRng;

const FILLER: &[&str] = &[
    "the", "customer", "order", "account", "invoice", "update", "please", "review", "status", "team", "policy",
    "details", "thread", "history", "previous", "message", "summary", "request", "deadline", "priority", "context",
    "change", "release", "service", "report", "numbers", "quarter", "contract", "clause", "renewal", "incident",
    "timeline", "owner", "next", "steps", "agreed", "pending", "approval", "draft", "notes",
];

/// What a person asks for in each use case.
fn ask(use_case: &str, n: u32) -> String {
    match use_case {
        "support-reply" => {
            format!("Draft a reply to ticket #{n}: the customer asks where the refund for order {} is.", 1000 + n % 900)
        }
        "ticket-summary" => {
            format!("Summarise ticket thread #{n} for the next shift: what was tried and what is pending.")
        }
        "code-review" => format!("Review pull request #{n}: check error handling, tests and the migration."),
        "code-sandbox" => format!("Prototype {n}: sketch a prompt that classifies build failures by cause."),
        "contract-review" => {
            format!("Flag unusual clauses in vendor agreement V-{n}: liability, renewal, data processing.")
        }
        "sales-outreach" => format!("Write a first-call email to prospect P-{n} about the analytics add-on."),
        "kb-search" => format!("Find the internal policy that answers question Q-{n} and quote the section."),
        "incident-triage" => format!("Triage incident INC-{n}: group the alerts and suggest the first check."),
        "finance-narrative" => format!("Draft the variance narrative for cost line L-{n} this month."),
        other => format!("Help with {other} item {n}."),
    }
}

/// A prompt of about `words` words for task `n` of a use case.
pub fn prompt(rng: &mut StdRng, use_case: &str, n: u32, words: u32) -> String {
    let mut out = ask(use_case, n);
    out.push_str("\nContext:");
    for _ in 0..words {
        out.push(' ');
        out.push_str(FILLER[rng.random_range(0..FILLER.len())]);
    }
    out
}

/// `words` words that follow from `name` alone: the same text every time.
pub fn document(name: &str, heading: &str, words: u32) -> String {
    let seed = name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut out = heading.to_string();
    for _ in 0..words {
        out.push(' ');
        out.push_str(FILLER[rng.random_range(0..FILLER.len())]);
    }
    out
}

/// A template's instructions for one person: a few hundred words that
/// follow from the template's name, so every call on it sends the same
/// text, and the person's name (as tools put the user's details in their
/// system prompt), so each person's prompt cache is their own and what a
/// call costs does not depend on who happened to call first.
pub fn instructions(template: &str, user: &str) -> String {
    let heading =
        format!("You follow the approved template {template}, working for {user}. Be accurate, cite sources.");
    document(template, &heading, 600)
}

fn luhn_digit(digits: &[u8]) -> u8 {
    // The check digit makes the doubled-alternate sum a multiple of 10.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

/// A Visa-shaped number that passes the Luhn check.
pub fn card_number(rng: &mut StdRng) -> String {
    let mut digits: Vec<u8> = vec![4];
    for _ in 0..14 {
        digits.push(rng.random_range(0..10));
    }
    digits.push(luhn_digit(&digits));
    let s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    format!("{} {} {} {}", &s[0..4], &s[4..8], &s[8..12], &s[12..16])
}

fn from(rng: &mut StdRng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// Something that should not have been pasted, in one of the shapes people
/// paste: a card, an access key, a token, a customer's address.
pub fn leak(rng: &mut StdRng) -> String {
    const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    match rng.random_range(0..4) {
        0 => format!("The customer's card is {}, please check the charge.", card_number(rng)),
        1 => format!("Our config has aws_access_key_id = AKIA{} if that helps.", from(rng, UPPER32, 16)),
        2 => format!("Use this token to call the API: ghp_{}", from(rng, ALNUM, 36)),
        _ => format!(
            "Reply to {}.{}@fastmail.com with the details.",
            from(rng, b"abcdefgh", 5),
            from(rng, b"mnopqrst", 6)
        ),
    }
}
