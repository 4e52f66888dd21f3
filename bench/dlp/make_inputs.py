"""Writes the texts bench/dlp measures speed on, into the folder given:
  prose.txt   Faker paragraphs, no personal data (what most prompts are)
  code.txt    tokenwise's own Rust sources, concatenated (real code)
  dense.txt   the labelled corpus's lines: personal data and credentials
              in nearly every line (the worst case)
  mixed.txt   prose with one labelled line every ~20 lines (for 4 KB prompts)
  intl.txt    Faker paragraphs in German, Russian, Japanese and Chinese:
              non-ASCII text already in normal form (checked, not copied)
  disguised.txt  the dense lines, each with a zero-width space inside
              its first word (every line takes the normalised-view path)
"""

import json
import random
import sys
from pathlib import Path

from faker import Faker

out = Path(sys.argv[1])
repo = Path(__file__).resolve().parents[2]
Faker.seed(7)
fake = Faker("en_US")
rng = random.Random(7)

prose = []
size = 0
while size < 8_000_000:
    p = fake.paragraph(nb_sentences=rng.randint(3, 8))
    prose.append(p)
    size += len(p) + 1
(out / "prose.txt").write_text("\n".join(prose))

code = []
for f in sorted(repo.glob("crates/**/*.rs")):
    code.append(f.read_text())
code_text = "\n".join(code)
(out / "code.txt").write_text(code_text * max(1, 4_000_000 // len(code_text)))

lines = [json.loads(l)["text"] for l in (repo / "crates/dlp/tests/data/corpus.jsonl").read_text().splitlines()]
dense = [l for l in lines if "\n" not in l]
(out / "dense.txt").write_text("\n".join(dense * 3))

mixed = []
for p in prose[:4000]:
    mixed.append(p)
    if rng.random() < 0.05:
        mixed.append(rng.choice(dense))
(out / "mixed.txt").write_text("\n".join(mixed))

intl = []
size = 0
locales = [Faker(loc) for loc in ("de_DE", "ru_RU", "ja_JP", "zh_CN")]
for i, f in enumerate(locales):
    f.seed_instance(7 + i)
while size < 2_000_000:
    p = rng.choice(locales).paragraph(nb_sentences=rng.randint(3, 8))
    intl.append(p)
    size += len(p.encode()) + 1
(out / "intl.txt").write_text("\n".join(intl))

disguised = [l[:2] + "\u200b" + l[2:] for l in dense * 3]
(out / "disguised.txt").write_text("\n".join(disguised))
