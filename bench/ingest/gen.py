#!/usr/bin/env python3
"""Writes N usage events as tokenwise JSON lines, for the ingest benchmark:
people of examples/acme.toml on use cases they may use and models those
allow, spread over November 2026 in time order, one call in three part of a task (five
calls a task), every id distinct.

  bench/ingest/gen.py N FILE
"""

import json
import random
import sys
import time

# (use case, its people, its allowed models) as examples/acme.toml has them.
WORK = [
    ("support-reply", ["ivan.petrov", "jade.nguyen", "kofi.mensah", "lena.schulz", "marco.rossi"],
     ["claude-haiku-4-5", "gpt-4.1-mini", "claude-sonnet-4-5"]),
    ("code-review", ["ben.carter", "chen.wei", "diego.santos", "xin.zhao", "yara.haddad"],
     ["claude-sonnet-4-5", "gpt-4.1", "o4-mini"]),
    ("sales-outreach", ["paula.costa", "quentin.roux", "rosa.jimenez"], ["gpt-4.1-mini", "gpt-4.1-nano"]),
    ("kb-search", ["emil.berg", "rhys.evans", "sofia.greco", "zoe.muller"], ["gpt-4.1-mini", "claude-haiku-4-5"]),
]


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(7)
    start = 1_793_487_600  # 2026-11-01T00:00:00+01:00
    span = 29 * 86_400
    with open(path, "w") as f:
        for i in range(n):
            use_case, people, models = WORK[i % len(WORK)]
            # In time order, as spend logs and traces are exported.
            t = start + i * span // n
            inp = rng.randrange(200, 20_000)
            ev = {
                "id": f"bench-{i}",
                "source": "acme/bench",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                "user": people[rng.randrange(len(people))],
                "use_case": use_case,
                "model": models[rng.randrange(len(models))],
                "usage": {
                    "input_tokens": inp,
                    "cache_read_tokens": inp // 3 if i % 2 else 0,
                    "output_tokens": rng.randrange(20, 2_000),
                },
            }
            if i % 3 == 0:
                ev["task"] = f"T-{i // 15}"
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
