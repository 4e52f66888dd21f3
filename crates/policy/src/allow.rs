//! `dlp.allow`: values the scanner finds that are never findings — a
//! vendor's no-reply address in every coding agent's system prompt, the
//! organisation's public support address. Exact values, or `*` patterns
//! (globs rather than regular expressions: an allowlist entry should read
//! as the text it allows, and a glob's breadth can be judged by its literal
//! characters, which `check` does).

use tokenwise_core::FindingKind;

/// What an entry matches: one value, or a glob whose `*` stands for any
/// run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowMatch {
    Value(String),
    /// The literal pieces between the `*`s (the first and last may be
    /// empty: the pattern starts or ends with `*`).
    Pattern(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub matches: AllowMatch,
    /// The kinds it applies to; empty: every kind.
    pub kinds: Vec<FindingKind>,
}

impl Allow {
    /// A pattern's pieces; `check` decides whether it may be used.
    pub fn pattern(pattern: &str, kinds: Vec<FindingKind>) -> Allow {
        Allow { matches: AllowMatch::Pattern(pattern.split('*').map(str::to_string).collect()), kinds }
    }

    pub fn value(value: &str, kinds: Vec<FindingKind>) -> Allow {
        Allow { matches: AllowMatch::Value(value.to_string()), kinds }
    }

    /// Whether `text`, found as `kind`, is allowed. Email addresses compare
    /// case-insensitively (domains are, and mail systems treat local parts
    /// so); credentials and numbers exactly.
    pub fn allows(&self, kind: FindingKind, text: &str) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return false;
        }
        let fold = kind == FindingKind::Email;
        match &self.matches {
            AllowMatch::Value(v) if fold => v.eq_ignore_ascii_case(text),
            AllowMatch::Value(v) => v == text,
            AllowMatch::Pattern(pieces) if fold => {
                let lower: Vec<String> = pieces.iter().map(|p| p.to_ascii_lowercase()).collect();
                glob(&lower, &text.to_ascii_lowercase())
            }
            AllowMatch::Pattern(pieces) => glob(pieces, text),
        }
    }

    fn applies_to(&self, kind: FindingKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Why a pattern may not be used, if it may not: one that matches
    /// almost anything, or every address at a domain (a mail domain's
    /// addresses are people), would hide the data the scanner is for.
    pub fn check(&self) -> Result<(), &'static str> {
        let AllowMatch::Pattern(pieces) = &self.matches else {
            return Ok(());
        };
        let literal = |s: &str| s.chars().filter(|c| !matches!(c, '*' | '@' | '.' | '-' | '_' | '+')).count();
        let text = pieces.join("*");
        if pieces.iter().map(|p| literal(p)).sum::<usize>() < 3 {
            return Err("too broad: it has fewer than 3 literal letters or digits, so it would allow almost anything");
        }
        if self.applies_to(FindingKind::Email) {
            match text.split_once('@') {
                Some((_, domain)) if domain.contains('@') => {
                    return Err("not an email address: it has more than one `@`");
                }
                Some((local, domain)) if literal(local) == 0 || literal(domain) == 0 => {
                    return Err(
                        "too broad: it would allow every address at a domain (or every domain), which are people's addresses",
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `pieces` (a pattern split at `*`) match all of `text`.
fn glob(pieces: &[String], text: &str) -> bool {
    let [first, middle @ .., last] = pieces else {
        return pieces.first().is_some_and(|p| p == text);
    };
    let Some(mut rest) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    for piece in middle {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use FindingKind::{Email, GenericSecret};

    #[test]
    fn values_fold_case_for_emails_only() {
        let a = Allow::value("noreply@anthropic.com", vec![]);
        assert!(a.allows(Email, "NoReply@Anthropic.COM"));
        assert!(!a.allows(Email, "noreply@anthropic.co"));
        let s = Allow::value("AbC123secret", vec![]);
        assert!(s.allows(GenericSecret, "AbC123secret"));
        assert!(!s.allows(GenericSecret, "abc123secret"));
        assert!(!Allow::value("noreply@anthropic.com", vec![GenericSecret]).allows(Email, "noreply@anthropic.com"));
    }

    #[test]
    fn patterns_match_the_whole_text() {
        let a = Allow::pattern("noreply@*.example", vec![Email]);
        assert!(a.allows(Email, "noreply@mail.example"));
        assert!(a.allows(Email, "NOREPLY@a.b.EXAMPLE"));
        assert!(!a.allows(Email, "xnoreply@mail.example"));
        assert!(!a.allows(Email, "noreply@mail.example.org"));
        let b = Allow::pattern("no*reply*@acme.example", vec![]);
        assert!(b.allows(Email, "noreply@acme.example"));
        assert!(b.allows(Email, "no-reply-7@acme.example"));
        assert!(!b.allows(Email, "no@acme.example"));
        // The prefix and suffix may not overlap.
        assert!(!Allow::pattern("abc*cde", vec![]).allows(GenericSecret, "abcde"));
    }

    #[test]
    fn broad_patterns_are_refused() {
        for p in ["*@*", "*", "**@*.*", "*@gmail.com", "noreply@*", "a*b", "a@b@*c.com"] {
            assert!(Allow::pattern(p, vec![]).check().is_err(), "{p}");
        }
        for p in ["noreply@*.example", "noreply*@acme.example", "sk-test-*"] {
            assert!(Allow::pattern(p, vec![]).check().is_ok(), "{p}");
        }
        // Not an email pattern: the domain rule does not apply.
        assert!(Allow::pattern("*@corp", vec![GenericSecret]).check().is_ok());
    }
}
