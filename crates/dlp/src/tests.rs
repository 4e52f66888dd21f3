//! Unit tests for the scanner: every kind found where it should be, and
//! the look-alikes left alone.

use super::*;

fn kinds(text: &str) -> Vec<(FindingKind, &str)> {
    let s = Scanner::new(&ScannerConfig {
        terms: vec![
            Term { text: "Project Apollo".into(), marker: false },
            Term { text: "ACME CONFIDENTIAL".into(), marker: true },
        ],
    })
    .unwrap();
    s.scan(text).into_iter().map(|f| (f.kind, &text[f.start..f.end])).collect()
}

fn one(text: &str) -> (FindingKind, String) {
    let k = kinds(text);
    assert_eq!(k.len(), 1, "{text:?} → {k:?}");
    (k[0].0, k[0].1.to_string())
}

fn none(text: &str) {
    let k = kinds(text);
    assert!(k.is_empty(), "{text:?} should have no findings, got {k:?}");
}

#[test]
fn cards_with_separators_and_brands() {
    assert_eq!(one("Card 4111 1111 1111 1111 please").1, "4111 1111 1111 1111");
    assert_eq!(one("pay with 5555-5555-5555-4444.").1, "5555-5555-5555-4444");
    assert_eq!(one("mc 2221000000000009 ok").0, FindingKind::CreditCard);
    assert_eq!(one("amex 3782 822463 10005").1, "3782 822463 10005");
    none("card 4111 1111 1111 1112"); // Luhn fails
    none("order 1234567812345670"); // no brand, and it is an order number
}

#[test]
fn ibans() {
    assert_eq!(one("IBAN DE89 3704 0044 0532 0130 00 thanks").1, "DE89 3704 0044 0532 0130 00");
    assert_eq!(one("to GB82WEST12345698765432.").1, "GB82WEST12345698765432");
    none("DE89 3704 0044 0532 0130 01"); // mod-97 fails
}

#[test]
fn ssns() {
    assert_eq!(one("SSN 123-45-6789").1, "123-45-6789");
    assert_eq!(one("my ssn is 123456789").1, "123456789");
    none("ref 666-45-6789");
    none("ref 900-45-6789");
    none("ref 123-00-6789");
    none("number 123456789 in stock");
}

#[test]
fn phones_but_not_dates_versions_amounts_or_orders() {
    assert_eq!(one("call (555) 234-5678 now").1, "(555) 234-5678");
    assert_eq!(one("call 555-234-5678x123").1, "555-234-5678x123");
    assert_eq!(one("ring +44 20 7946 0958.").1, "+44 20 7946 0958");
    assert_eq!(one("Tel: 020 7946 0958").1, "020 7946 0958");
    assert_eq!(one("+1-555-234-5678").0, FindingKind::Phone);
    none("released 2026-11-28 and 28.11.2026 and 11/28/2026");
    none("upgrade to v2.10.4 or 1.2.3");
    none("costs $1,234.56 or 1 234,56 € total");
    none("order ORD-1234567890 shipped, invoice #5552345678");
    none("part 4411-22-3301");
}

#[test]
fn emails_and_ips() {
    assert_eq!(one("mail jane.doe+x@example.co.uk.").1, "jane.doe+x@example.co.uk");
    assert_eq!(one("host 192.168.10.4 is down").1, "192.168.10.4");
    assert_eq!(one("v6 2001:db8::8a2e:370:7334 ok").1, "2001:db8::8a2e:370:7334");
    none("at 12:30:45 we met @ noon");
    none("use std::vector and ab:cd");
    none("version 1.2.3.4.5 and 256.1.1.1");
}

#[test]
fn credentials() {
    assert_eq!(one("key AKIAIOSFODNN7EXAMPLE here").0, FindingKind::AwsAccessKey);
    assert_eq!(one("ghp_abcdefghijklmnopqrstuvwxyz0123456789").0, FindingKind::GithubToken);
    assert_eq!(one("OPENAI sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z").0, FindingKind::OpenaiKey);
    assert_eq!(one("sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA").0, FindingKind::AnthropicKey);
    assert_eq!(one("xoxb-1234567890-abcdefghijkl").0, FindingKind::SlackToken);
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END RSA PRIVATE KEY-----";
    assert_eq!(one(pem).1, pem);
    let jwt =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(one(&format!("auth {jwt} ok")).1, jwt);
    assert_eq!(one("DB_PASSWORD=\"Tr0ub4dor&3x\"").1, "Tr0ub4dor&3x");
    assert_eq!(one("{\"client_secret\": \"9f8e7d6c5b4a3210fedc\"}").1, "9f8e7d6c5b4a3210fedc");
    none("the token is valid for one hour");
    none("use tokenwise_ledger::verify_store; input_tokens: r.usage.input, bypass = XyZ12345abc");
    none("token_delay: Duration::from_millis(token_ms), authority: 'Zx9Yw8Vu7Ts6'");
    assert_eq!(one("clientSecret: 'Zx9Yw8Vu7Ts6'").1, "Zx9Yw8Vu7Ts6");
    none("password = changeme");
    none("password: ${DB_PASSWORD}");
    none("sk-learn is a library; eyJ is how base64 JSON starts");
    none("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
}

#[test]
fn terms_and_markers_are_word_bounded_and_case_insensitive() {
    assert_eq!(one("status of project apollo?").0, FindingKind::CustomTerm);
    assert_eq!(one("Acme Confidential: plan").0, FindingKind::ConfidentialityMarker);
    none("projectapollo and Project Apollonia");
}

#[test]
fn clean_text_finds_nothing_and_offsets_are_bytes() {
    none("Please summarise the attached meeting notes in three bullet points.");
    let text = "Zoë’s mail: zoë.x@example.com? or “zoe@example.com”";
    let k = kinds(text);
    assert_eq!(k, vec![(FindingKind::Email, "zoë.x@example.com"), (FindingKind::Email, "zoe@example.com")]);
}

#[test]
fn redaction_masks_spans() {
    let s = Scanner::new(&ScannerConfig::default()).unwrap();
    let text = "mail jane@example.com, card 4111 1111 1111 1111.";
    let f = s.scan(text);
    assert_eq!(redact(text, &f), "mail [EMAIL], card [CREDIT_CARD].");
}

proptest::proptest! {
    /// No input makes the scanner panic, and every span is a valid,
    /// ordered, non-overlapping slice on character boundaries.
    #[test]
    fn spans_are_always_valid(text in "\\PC{0,200}") {
        let s = Scanner::new(&ScannerConfig { terms: vec![Term { text: "Apollo".into(), marker: false }] }).unwrap();
        let f = s.scan(&text);
        let mut last = 0;
        for x in &f {
            proptest::prop_assert!(x.start < x.end && x.end <= text.len() && x.start >= last);
            proptest::prop_assert!(text.is_char_boundary(x.start) && text.is_char_boundary(x.end));
            last = x.end;
        }
    }

    #[test]
    fn digit_heavy_text_is_safe(text in "[0-9 +().:/@a-fA-F-]{0,120}") {
        let s = Scanner::new(&ScannerConfig::default()).unwrap();
        for x in s.scan(&text) {
            proptest::prop_assert!(x.end <= text.len() && text.is_char_boundary(x.start));
        }
    }
}
