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

/// A list of cards is one run of digit groups: each card in it is found,
/// however many there are and whatever joins them.
#[test]
fn every_card_in_a_list_is_found() {
    let cards = |text: &str| -> Vec<String> { kinds(text).into_iter().map(|(_, s)| s.to_string()).collect() };
    assert_eq!(cards("cards 4111 1111 1111 1111 5555 5555 5555 4444"), ["4111 1111 1111 1111", "5555 5555 5555 4444"]);
    assert_eq!(cards("4111111111111111 5555555555554444 ok"), ["4111111111111111", "5555555555554444"]);
    assert_eq!(cards("5555-5555-5555-4444 4111-1111-1111-1111"), ["5555-5555-5555-4444", "4111-1111-1111-1111"]);
    let five = ["4111 1111 1111 1111"; 5].join(" ");
    assert_eq!(cards(&five).len(), 5, "{five}");
    // A card after other numbers, and a long run with none in it.
    assert_eq!(cards("row 7 12 2024 4111 1111 1111 1111"), ["4111 1111 1111 1111"]);
    none("1234 5678 9012 3456 7890 1234 5678 9012 3456");
    none("ORD-4111111111111111");
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
    assert_eq!(one("key AKIAZ7GH2KQW4TNB5XEM here").0, FindingKind::AwsAccessKey);
    assert_eq!(one("ghp_abcdefghijklmnopqrstuvwxyz0123456789").0, FindingKind::GithubToken);
    assert_eq!(one("OPENAI sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z").0, FindingKind::OpenaiKey);
    assert_eq!(one("sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA").0, FindingKind::AnthropicKey);
    assert_eq!(one("xoxb-1234567890-abcdefghijkl").0, FindingKind::SlackToken);
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----";
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

    /// What a scan finds from a point on is what a scan that starts
    /// `LOOKBEHIND_BYTES` earlier finds there (a streamed reply's window
    /// reads that much of what it let through before): numbers are read
    /// group by group, not in chunks counted from where a run of them
    /// began, and nothing reads farther back than a curl command's start.
    #[test]
    fn a_scan_from_mid_text_finds_what_the_whole_text_does_there(
        words in proptest::collection::vec(proptest::sample::select(vec![
            "4111 1111 1111 1111", "4111 1111 1111 1111", "5555-5555-5555-4444", "4111111111111111",
            "378282246310005", "1234", "7", "555-234-5678", "123-45-6789", "+44 20 7946 0958", "2024-01-02",
            "10.0.0.1", "12/27", "card", "call", "ssn", "the", "ORD", "curl", "-s", "-X POST",
            "https://api.acme-corp.io/v1/charges", "-H 'Content-Type: application/json'", "-u deploy:Qx7vR2mLp9",
            "--user admin:Zr84-kQp-1mX", "\\\n", "# example key, not a real one\n", "password = \"h7#Kd92!xQ\"",
            "<password>W4ll!flower9</password>", "AKIAZ3MQ7RTXK4PLW2QD", "e.g.", "jane.doe@example.com",
            "the plan is to ship a small fix then check it and write the notes for the team", "\n",
        ]), 0..400),
        seps in proptest::collection::vec(proptest::sample::select(vec![" ", " ", "-", "\n", ", "]), 400),
        cut in 0usize..20_000,
    ) {
        let s = Scanner::new(&ScannerConfig::default()).unwrap();
        let mut text = String::new();
        for (w, sep) in words.iter().zip(&seps) {
            text.push_str(w);
            text.push_str(sep);
        }
        let whole = s.scan(&text);
        let mut cut = cut % (text.len() + 1);
        // A stream never lets part of a finding through: it holds it back.
        if let Some(f) = whole.iter().find(|f| f.start < cut && cut < f.end) {
            cut = f.start;
        }
        let from = cut.saturating_sub(LOOKBEHIND_BYTES);
        let expected: Vec<_> = whole.iter().filter(|f| f.start >= cut).map(|f| (f.kind, f.start, f.end)).collect();
        let got: Vec<_> = s
            .scan(&text[from..])
            .into_iter()
            .filter(|f| f.start + from >= cut)
            .map(|f| (f.kind, f.start + from, f.end + from))
            .collect();
        proptest::prop_assert_eq!(got, expected, "{:?} from {}", text, cut);
    }

    #[test]
    fn digit_heavy_text_is_safe(text in "[0-9 +().:/@a-fA-F-]{0,120}") {
        let s = Scanner::new(&ScannerConfig::default()).unwrap();
        for x in s.scan(&text) {
            proptest::prop_assert!(x.end <= text.len() && text.is_char_boundary(x.start));
        }
    }
}

// Disguised text: the detectors read the normalised view; findings and
// redaction are about the original.

/// Fullwidth forms of the ASCII in `s` (space becomes the ideographic space).
fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
            _ => c,
        })
        .collect()
}

#[test]
fn fullwidth_digits_and_letters_are_found_and_the_original_is_masked() {
    let card = fullwidth("4111 1111 1111 1111");
    assert_eq!(
        card,
        "\u{FF14}\u{FF11}\u{FF11}\u{FF11}\u{3000}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{3000}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{3000}\u{FF11}\u{FF11}\u{FF11}\u{FF11}"
    );
    let text = format!("Card {card} please");
    assert_eq!(one(&text), (FindingKind::CreditCard, card.clone()));
    // Fullwidth digits, ASCII spaces.
    let digits =
        fullwidth("4111").replace('\u{3000}', " ") + " " + &fullwidth("1111 1111 1111").replace('\u{3000}', " ");
    assert_eq!(one(&format!("card {digits}.")).1, digits);
    let key = fullwidth("AKIAZ7GH2KQW4TNB5XEM");
    assert_eq!(one(&format!("key {key} here")), (FindingKind::AwsAccessKey, key));
    assert_eq!(one(&format!("status of {}?", fullwidth("Project Apollo"))).0, FindingKind::CustomTerm);
    let s = Scanner::new(&ScannerConfig::default()).unwrap();
    let text = format!("pay {card}, mail {}", fullwidth("jane@example.com"));
    assert_eq!(redact(&text, &s.scan(&text)), "pay [CREDIT_CARD], mail [EMAIL]");
}

#[test]
fn zero_width_characters_inside_credentials_do_not_hide_them() {
    let aws = "AKIA\u{200B}Z7GH\u{200C}2KQW4\u{2060}TNB5XEM";
    assert_eq!(one(&format!("key {aws} here")), (FindingKind::AwsAccessKey, aws.to_string()));
    let gh = "ghp_abcdefghij\u{FEFF}klmnopqrstuvwxyz\u{AD}0123456789\u{200D}";
    // The trailing joiner is not part of the token.
    assert_eq!(one(&format!("token {gh} ok")), (FindingKind::GithubToken, gh.trim_end_matches('\u{200D}').to_string()));
    let openai = "sk-proj-Ab3dEf6hIj9kL\u{180E}m2nOp5qRs8tUv1wXy4z";
    assert_eq!(one(openai).0, FindingKind::OpenaiKey);
    let s = Scanner::new(&ScannerConfig::default()).unwrap();
    let text = format!("a {aws} b");
    assert_eq!(redact(&text, &s.scan(&text)), "a [AWS_ACCESS_KEY] b");
}

#[test]
fn control_characters_inside_an_email_do_not_hide_it() {
    let mail = "jane\u{0}.doe@exa\u{7}mple.com";
    assert_eq!(one(&format!("mail {mail}.")), (FindingKind::Email, mail.to_string()));
    let mail = "bob\u{1B}@example.org";
    assert_eq!(one(&format!("to {mail}")), (FindingKind::Email, mail.to_string()));
    // Tab, line feed and carriage return are kept: they still separate.
    assert_eq!(kinds("a\tjane@example.com\r\nb@example.org").len(), 2);
}

#[test]
fn compatibility_ligatures_fold() {
    // U+FB01 is the "fi" ligature.
    let marker = "Acme Con\u{FB01}dential";
    assert_eq!(one(&format!("{marker}: plan")), (FindingKind::ConfidentialityMarker, marker.into()));
    // U+FB00 is "ff": a hex key's two letters in one character.
    let key = "3\u{FB00}a9c41e7d0b2f5a8c6e1d4b";
    assert_eq!(one(&format!("api_key = {key}")), (FindingKind::GenericSecret, key.into()));
    // No-break spaces are spaces.
    assert_eq!(one("SSN 123\u{A0}45\u{A0}6789").1, "123\u{A0}45\u{A0}6789");
}

#[test]
fn passwords_in_urls_are_secrets_not_emails() {
    let cases = [
        ("DATABASE_URL=postgres://app:Sup3r-s3cret@db.example.com:5432/app", "Sup3r-s3cret"),
        ("redis://:p4ssw0rd@cache.example.com:6379/0", "p4ssw0rd"),
        ("mongodb+srv://admin:hunter2@cluster0.example.mongodb.net/db?retryWrites=true", "hunter2"),
        ("amqp://guest:Gu3st!pass@rabbit.example.com/vhost", "Gu3st!pass"),
        ("see ftp://bob:letmein@ftp.example.com/pub.", "letmein"),
        ("https://user:pa@ss@host.example.com/x", "pa@ss"),
        ("https://token:Zx9Yw8Vu7Ts6Rq5Po4@api.example.com", "Zx9Yw8Vu7Ts6Rq5Po4"),
    ];
    for (text, secret) in cases {
        assert_eq!(one(text), (FindingKind::GenericSecret, secret.to_string()), "{text}");
    }
    // A template's placeholder or a mask is no password; nor is it an email.
    none("postgres://app:$DB_PASSWORD@db.example.com/app");
    none("postgres://app:********@db.example.com/app");
    none("postgres://postgres@db.example.com:5432/test");
}

#[test]
fn tokens_as_url_user_names_are_secrets_not_emails() {
    let token = "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";
    let text = format!("git clone https://{token}@github.com/acme/app.git");
    assert_eq!(one(&text), (FindingKind::GenericSecret, token.to_string()));
    let text = "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/acme/app.git";
    assert_eq!(one(text).0, FindingKind::GithubToken);
    let text = "https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r";
    assert_eq!(one(text), (FindingKind::GithubToken, "ghs_16C7e42F292c6912E7710c838347Ae178B4a".into()));
    // User names are not tokens, and not emails either.
    none("ssh://git@github.com/acme/app.git and https://jane.doe@bitbucket.example.org/acme/app");
    // Ordinary emails stay emails.
    assert_eq!(one("write to jane@example.com").1, "jane@example.com");
    assert_eq!(one("<a href=\"mailto:jane@example.com\">").1, "jane@example.com");
    assert_eq!(one("https://example.com/contact?email=jane@example.com").1, "jane@example.com");
}

#[test]
fn disguised_urls_and_redaction_of_the_original() {
    let url = fullwidth("postgres://app:Sup3r-s3cret@db.example.com");
    assert_eq!(one(&url), (FindingKind::GenericSecret, fullwidth("Sup3r-s3cret")));
    let s = Scanner::new(&ScannerConfig::default()).unwrap();
    let text = format!("db: redis://:p4ss\u{200B}w0rd@cache.example.com, card {}", fullwidth("4111 1111 1111 1111"));
    let f = s.scan(&text);
    assert_eq!(redact(&text, &f), "db: redis://:[GENERIC_SECRET]@cache.example.com, card [CREDIT_CARD]");
}

use proptest::strategy::Strategy;

/// Secrets to hide, with the kind each must be found as.
const SECRETS: &[(&str, FindingKind)] = &[
    ("AKIAZ7GH2KQW4TNB5XEM", FindingKind::AwsAccessKey),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", FindingKind::GithubToken),
    ("sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", FindingKind::OpenaiKey),
    ("4111 1111 1111 1111", FindingKind::CreditCard),
    ("jane.doe@example.com", FindingKind::Email),
    ("DE89 3704 0044 0532 0130 00", FindingKind::Iban),
];

/// Characters that show nothing: zero-width, joiners, soft hyphen, BOM,
/// variation selector, tag, controls.
const INVISIBLE: &[char] =
    &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}', '\u{FE0F}', '\u{E0041}', '\0', '\u{1F}'];

proptest::proptest! {
    /// Invisible characters anywhere inside a secret do not hide it, and
    /// the finding spans the whole disguised secret.
    #[test]
    fn invisible_characters_inside_a_secret_do_not_hide_it(
        which in 0..SECRETS.len(),
        inserts in proptest::collection::vec((0usize..64, 0..INVISIBLE.len()), 1..8),
        wide in proptest::bool::ANY,
    ) {
        let (secret, kind) = SECRETS[which];
        let mut chars: Vec<char> = if wide { fullwidth(secret).chars().collect() } else { secret.chars().collect() };
        for (at, c) in inserts {
            // Strictly inside: between two of the secret's characters.
            let at = 1 + at % (chars.len() - 1);
            chars.insert(at, INVISIBLE[c]);
        }
        let disguised: String = chars.into_iter().collect();
        let text = format!("here: {disguised} end");
        let s = Scanner::new(&ScannerConfig::default()).unwrap();
        let f = s.scan(&text);
        proptest::prop_assert_eq!(f.len(), 1, "{:?} → {:?}", text, f);
        proptest::prop_assert_eq!(f[0].kind, kind);
        proptest::prop_assert_eq!(&text[f[0].start..f[0].end], disguised.as_str());
        proptest::prop_assert_eq!(redact(&text, &f), format!("here: {} end", label(kind)));
    }

    /// With any characters at all (controls, format characters, fullwidth
    /// forms, marks), spans are ordered, within the text, non-overlapping
    /// and on character boundaries of the original.
    #[test]
    fn spans_of_disguised_text_are_valid(
        parts in proptest::collection::vec(proptest::prop_oneof![
            proptest::char::any().prop_map(String::from),
            proptest::sample::select(INVISIBLE).prop_map(String::from),
            proptest::sample::select(&['\u{301}', '\u{FF14}', '\u{FF11}', '\u{FB01}', '\u{3000}', '\u{A0}', '@', ':'][..])
                .prop_map(String::from),
            proptest::sample::select(&["AKIA", "ghp_", "4111", " 1111", "jane", "@example.com", "://u:", "e\u{301}"][..])
                .prop_map(String::from),
        ], 0..60),
    ) {
        let text: String = parts.concat();
        let s = Scanner::new(&ScannerConfig { terms: vec![Term { text: "Apollo".into(), marker: false }] }).unwrap();
        let mut last = 0;
        for x in s.scan(&text) {
            proptest::prop_assert!(x.start < x.end && x.end <= text.len() && x.start >= last, "{:?} in {:?}", x, text);
            proptest::prop_assert!(text.is_char_boundary(x.start) && text.is_char_boundary(x.end));
            last = x.end;
        }
    }
}

/// Terms are searched 64 KiB at a time: one across a chunk's border is
/// found whole, once, and the terms after it as a search of the whole
/// text finds them (LeftmostLongest, no overlaps).
#[test]
fn terms_across_the_search_chunks_are_found_whole() {
    let s = Scanner::new(&ScannerConfig {
        terms: vec![
            Term { text: "Project Apollo".into(), marker: false },
            Term { text: "Apollo Prime".into(), marker: false },
            Term { text: "Helios".into(), marker: false },
        ],
    })
    .unwrap();
    for at in 65_520..65_544 {
        let text = format!("{}PROJECT APOLLO Prime Helios and helios.", "a ".repeat(at / 2) + &"b".repeat(at % 2));
        let text = text.replacen("PROJECT", " PROJECT", 1);
        let found: Vec<&str> = s.scan(&text).iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(found, ["PROJECT APOLLO", "Helios", "helios"], "at {at}");
    }
}
