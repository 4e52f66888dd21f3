"""Generates the labelled DLP corpus: sentences with personal data and
credentials whose byte spans are known, plus hard negatives that look like
them and are not (Luhn-invalid numbers, invalid SSNs, UUIDs, hashes, dates,
versions, amounts, part and order numbers).

Values come from Faker (cards of every brand, IBANs of several countries,
SSNs, emails, IPs, phone numbers in US, UK and German formats); credentials
are built to each issuer's published format from a seeded random source.
Deterministic: the same seed gives the same file.

    python bench/dlp/make_corpus.py > crates/dlp/tests/data/corpus.jsonl

Each line: {"text": "...", "spans": [{"kind": "...", "start": N, "end": N}]}
with byte offsets into the UTF-8 text.
"""

import base64
import json
import random
import re
import string
import sys

from faker import Faker

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 20261128
rng = random.Random(SEED)
Faker.seed(SEED)
fake_us = Faker("en_US")
fake_gb = Faker("en_GB")
fake_de = Faker("de_DE")
ibans = [Faker(loc) for loc in ("de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT", "de_AT", "de_CH", "pl_PL")]

TEMPLATES = {
    "credit_card": [
        "Please charge my card <V> for the renewal.",
        "Customer paid with <V> yesterday.",
        "card number: <V>",
        "Can you refund <V>? It was charged twice.",
        "PAN <V> exp 09/29",
    ],
    "iban": [
        "Wire the deposit to IBAN <V> by Friday.",
        "Account: <V>",
        "Our bank details changed, new IBAN is <V>.",
        "Transfer to <V> (Acme GmbH).",
    ],
    "us_ssn": [
        "Employee SSN <V> needs to be updated in payroll.",
        "social security number: <V>",
        "The applicant's SSN is <V>.",
        "Verify <V> against the W-2.",
    ],
    "email": [
        "Forward the contract to <V> please.",
        "Contact: <V>",
        "I wrote to <V> but got no answer.",
        "cc <V>, <W>",
    ],
    "phone": [
        "Call me back at <V>.",
        "Phone: <V>",
        "The customer left a voicemail from <V> this morning.",
        "mobile <V> (after 5pm)",
    ],
    "ip_address": [
        "The login came from <V> at 03:12.",
        "Block <V> on the firewall.",
        "server ip=<V>",
        "Traffic spiked from <V>.",
    ],
    "aws_access_key": ["aws_access_key_id = <V>", "Found <V> in the build log.", "key <V> was rotated"],
    "github_token": ["GITHUB_TOKEN=<V>", "use token <V> for the CI", "leaked <V> in the issue"],
    "openai_key": ["OPENAI_API_KEY=<V>", "client = OpenAI(api_key=\"<V>\")", "my key is <V>"],
    "anthropic_key": ["ANTHROPIC_API_KEY=<V>", "export ANTHROPIC_API_KEY=<V>", "the key <V> stopped working"],
    "slack_token": ["SLACK_BOT_TOKEN=<V>", "bot token: <V>", "post with <V>"],
    "private_key": ["Here is the deploy key:\n<V>\nthanks", "<V>"],
    "jwt": ["Authorization: Bearer <V>", "session cookie <V> expired", "decode <V>"],
    "generic_secret": [
        'DB_PASSWORD="<V>"',
        "password: <V>",
        '{"client_secret": "<V>"}',
        "smtp_pass = <V>",
        "export API_KEY=<V>",
    ],
    "custom_term": ["What is the status of Project Apollo?", "Helios churn numbers for Q3", "draft the project apollo memo"],
    "confidentiality_marker": ["ACME CONFIDENTIAL - do not forward", "Acme Confidential: board deck", "[ACME CONFIDENTIAL] Q4 plan"],
}

CARD_TYPES = ["visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro", "visa16", "visa13", "visa19"]


def group_card(n):
    style = rng.random()
    if style < 0.35:
        return n
    sep = " " if style < 0.75 else "-"
    if len(n) == 15:
        return sep.join([n[:4], n[4:10], n[10:]])
    return sep.join(n[i : i + 4] for i in range(0, len(n), 4))


def iban_value():
    v = rng.choice(ibans).iban()
    if rng.random() < 0.5:
        v = " ".join(v[i : i + 4] for i in range(0, len(v), 4))
    return v


def ssn_value():
    v = fake_us.ssn()
    return v if rng.random() < 0.8 else v.replace("-", " ")


def phone_value():
    r = rng.random()
    if r < 0.5:
        return fake_us.phone_number()
    if r < 0.75:
        return fake_gb.phone_number()
    return fake_de.phone_number()


def token(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def secret_value(kind):
    if kind == "aws_access_key":
        return rng.choice(["AKIA", "ASIA"]) + token(UPPER, 16)
    if kind == "github_token":
        return rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + token(ALNUM, 36) if rng.random() < 0.8 else "github_pat_" + token(ALNUM + "_", 82)
    if kind == "openai_key":
        return rng.choice(["sk-proj-", "sk-svcacct-", "sk-"]) + token(URLSAFE, 48)
    if kind == "anthropic_key":
        return "sk-ant-api03-" + token(URLSAFE, 93) + "AA"
    if kind == "slack_token":
        return rng.choice(["xoxb-", "xoxp-"]) + token(string.digits, 12) + "-" + token(string.digits, 13) + "-" + token(ALNUM, 24)
    if kind == "private_key":
        body = "\n".join(token(ALNUM + "+/", 64) for _ in range(rng.randint(3, 8)))
        kind_word = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
        return f"-----BEGIN {kind_word}PRIVATE KEY-----\n{body}\n-----END {kind_word}PRIVATE KEY-----"
    if kind == "jwt":
        header = b64url({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
        payload = b64url({"sub": str(rng.randint(1, 10**9)), "name": fake_us.name(), "iat": rng.randint(10**9, 2 * 10**9)})
        return f"{header}.{payload}.{token(URLSAFE, 43)}"
    if kind == "generic_secret":
        return fake_us.password(length=rng.randint(12, 24), special_chars=rng.random() < 0.6)
    raise ValueError(kind)


def value(kind):
    if kind == "credit_card":
        return group_card(fake_us.credit_card_number(card_type=rng.choice(CARD_TYPES)))
    if kind == "iban":
        return iban_value()
    if kind == "us_ssn":
        return ssn_value()
    if kind == "email":
        return rng.choice([fake_us, fake_gb, fake_de]).email()
    if kind == "phone":
        return phone_value()
    if kind == "ip_address":
        return fake_us.ipv4() if rng.random() < 0.7 else fake_us.ipv6()
    return secret_value(kind)


def line(template, kind):
    """Fills a template's <V> and <W> with values; returns the text and the
    byte spans of each value."""
    text, spans = "", []
    for piece in re.split(r"(<V>|<W>)", template):
        if piece in ("<V>", "<W>"):
            v = value(kind)
            start = len(text.encode())
            spans.append({"kind": kind, "start": start, "end": start + len(v.encode())})
            text += v
        else:
            text += piece
    return text, spans


def term_line(template, kind):
    text = template
    spans = []
    for word in ("Project Apollo", "project apollo", "Helios", "ACME CONFIDENTIAL", "Acme Confidential"):
        i = text.find(word)
        if i >= 0:
            k = "confidentiality_marker" if "onfidential" in word.lower() else "custom_term"
            if k == kind:
                spans.append({"kind": k, "start": len(text[:i].encode()), "end": len(text[: i + len(word)].encode())})
    return text, spans


def luhn_invalid_card():
    n = fake_us.credit_card_number(card_type=rng.choice(CARD_TYPES))
    last = int(n[-1])
    return group_card(n[:-1] + str((last + rng.randint(1, 9)) % 10))


def invalid_ssn():
    area = rng.choice(["000", "666", str(rng.randint(900, 999))])
    if rng.random() < 0.3:
        return f"{rng.randint(100, 665):03d}-00-{rng.randint(1, 9999):04d}"
    if rng.random() < 0.3:
        return f"{rng.randint(100, 665):03d}-{rng.randint(1, 99):02d}-0000"
    return f"{area}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


HARD_NEGATIVES = [
    lambda: f"Card {luhn_invalid_card()} was declined as invalid.",
    lambda: f"Test SSN {invalid_ssn()} is not a real one.",
    lambda: f"Request id {fake_us.uuid4()} failed.",
    lambda: f"commit {fake_us.sha1()} fixed it; artifact sha256 {fake_us.sha256()}",
    lambda: f"md5 {fake_us.md5()}",
    lambda: f"Meeting on {fake_us.date(pattern=rng.choice(['%Y-%m-%d', '%d.%m.%Y', '%m/%d/%Y', '%d/%m/%Y']))} at {fake_us.time()}",
    lambda: f"Upgrade to v{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} before {rng.randint(1, 12)}.{rng.randint(1, 28)}.",
    lambda: f"Total due: ${rng.randint(1, 99)},{rng.randint(100, 999)}.{rng.randint(10, 99)} (was €{rng.randint(100, 9999)}.{rng.randint(10, 99)})",
    lambda: f"Part number {rng.randint(1000, 9999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} is back in stock.",
    lambda: f"Order ORD-{rng.randint(10**9, 10**10 - 1)} shipped; invoice #{rng.randint(10**9, 10**10 - 1)}",
    lambda: f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}",
    lambda: f"Ticket {rng.randint(100000, 999999)} and build {rng.randint(1000000000, 9999999999)} passed",
    lambda: f"Coordinates {fake_us.latitude()}, {fake_us.longitude()}",
    lambda: f"The token is valid for {rng.randint(1, 24)} hours; password resets expire in {rng.randint(10, 60)} minutes.",
    lambda: f"password = ${{{rng.choice(['DB_PASSWORD', 'SECRET', 'PASS'])}}}",
    lambda: f"Call the {fake_us.catch_phrase()} team at the {rng.randint(2, 9)}pm standup.",
    lambda: f"Version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} of the SDK",
    lambda: f"Use std::vector<int> and MAC {fake_us.mac_address()}",
    lambda: f"Zip code {fake_us.postcode()}, room {rng.randint(100, 999)}, {rng.randint(1, 100)}% done",
    lambda: fake_us.paragraph(nb_sentences=3),
    lambda: f"Flight {rng.choice(['LH', 'BA', 'UA'])}{rng.randint(100, 9999)} departs {rng.randint(10, 23)}:{rng.randint(10, 59)}",
    lambda: f"Timestamp {rng.randint(1_600_000_000, 1_900_000_000)} ms {rng.randint(1_600_000_000_000, 1_900_000_000_000)}",
]


def main():
    out = sys.stdout
    kinds = [k for k in TEMPLATES]
    for kind in kinds:
        n = 40 if kind in ("custom_term", "confidentiality_marker") else 150
        for _ in range(n):
            template = rng.choice(TEMPLATES[kind])
            if kind in ("custom_term", "confidentiality_marker"):
                text, spans = term_line(template, kind)
            else:
                text, spans = line(template, kind)
            out.write(json.dumps({"text": text, "spans": spans}, ensure_ascii=False) + "\n")
    for _ in range(900):
        text = rng.choice(HARD_NEGATIVES)()
        out.write(json.dumps({"text": text, "spans": []}, ensure_ascii=False) + "\n")
    # Mixed lines: several kinds in one message.
    for _ in range(150):
        ks = rng.sample(["credit_card", "email", "phone", "iban", "us_ssn", "ip_address", "github_token"], 3)
        text, spans = "", []
        for k in ks:
            t, s = line(rng.choice(TEMPLATES[k]), k)
            off = len((text + " ").encode()) if text else 0
            text = (text + " " + t) if text else t
            spans += [{**x, "start": x["start"] + off, "end": x["end"] + off} for x in s]
        out.write(json.dumps({"text": text, "spans": spans}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
