"""tokenwise's scanner beside Presidio's pattern recognizers, in one run:
accuracy (precision, recall, F2 per kind, overlap matching) on the labelled
corpora, for the six kinds both detect, and speed (MB/s, one core) on the
same texts. Presidio's recognizers are used directly (PatternRecognizer,
no spaCy model), as its documentation allows; scores as returned, no
threshold (Presidio's own default).

    python bench/dlp/compare.py TOKENWISE_BIN INPUT_DIR
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import tldextract

# Presidio's email recognizer asks tldextract for the public-suffix list,
# which it would try to download; use the copy bundled with tldextract.
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

BIN, INPUTS = sys.argv[1], Path(sys.argv[2])
REPO = Path(__file__).resolve().parents[2]
KINDS = {
    "CREDIT_CARD": "credit_card",
    "EMAIL_ADDRESS": "email",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
    "IP_ADDRESS": "ip_address",
    "PHONE_NUMBER": "phone",
}
RECOGNIZERS = [CreditCardRecognizer(), EmailRecognizer(), IbanRecognizer(), UsSsnRecognizer(), IpRecognizer(), PhoneRecognizer()]


def presidio(text):
    out = []
    for r in RECOGNIZERS:
        for res in r.analyze(text, entities=r.supported_entities, nlp_artifacts=None) or []:
            kind = KINDS.get(res.entity_type)
            if kind:
                out.append((kind, len(text[: res.start].encode()), len(text[: res.end].encode())))
    return out


def tokenwise(texts):
    p = subprocess.run([BIN, "scan", "--json", "--lines"], input="\n".join(texts), capture_output=True, text=True, check=True)
    return [[(f["kind"], f["start"], f["end"]) for f in json.loads(l)["findings"]] for l in p.stdout.splitlines()]


def score(lines, predictions):
    counts = {k: [0, 0, 0] for k in KINDS.values()}
    for (text, gold), found in zip(lines, predictions):
        found = [f for f in found if f[0] in counts]
        used = [False] * len(found)
        for kind, gs, ge in gold:
            if kind not in counts:
                continue
            hit = next((i for i, (k, s, e) in enumerate(found) if not used[i] and k == kind and s < ge and gs < e), None)
            if hit is None:
                counts[kind][2] += 1
            else:
                used[hit] = True
                counts[kind][0] += 1
        for i, (k, s, e) in enumerate(found):
            if not used[i]:
                counts[k][1] += 1
    result = {}
    for k, (tp, fp, fn) in counts.items():
        p = tp / max(tp + fp, 1)
        r = tp / max(tp + fn, 1)
        f2 = 0 if p + r == 0 else 5 * p * r / (4 * p + r)
        result[k] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f2": f2}
    return result


def speed(fn, text, chunk=4096, budget=5.0):
    chunks = [text[i : i + chunk] for i in range(0, len(text), chunk)]
    start, done, n = time.perf_counter(), 0, 0
    while time.perf_counter() - start < budget and n < len(chunks):
        fn(chunks[n])
        done += len(chunks[n].encode())
        n += 1
    return done / 1e6 / (time.perf_counter() - start)


def main():
    lines = []
    for name in ("corpus.jsonl", "heldout.jsonl"):
        for l in (REPO / "crates/dlp/tests/data" / name).read_text().splitlines():
            v = json.loads(l)
            if "\n" not in v["text"]:
                lines.append((v["text"], [(s["kind"], s["start"], s["end"]) for s in v["spans"]]))
    texts = [t for t, _ in lines]
    tw = score(lines, tokenwise(texts))
    pr = score(lines, [presidio(t) for t in texts])
    print(json.dumps({"lines": len(lines), "tokenwise": tw, "presidio": pr}))
    for name in ("prose.txt", "dense.txt"):
        text = (INPUTS / name).read_text()[:1_000_000]
        print(json.dumps({"presidio_mb_per_s": speed(presidio, text), "file": name}))


if __name__ == "__main__":
    main()
