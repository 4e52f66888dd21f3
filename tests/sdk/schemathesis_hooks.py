"""Schemathesis hooks (SCHEMATHESIS_HOOKS) for scripts/schemathesis.py: `POST /api/v1/events:batch`
also takes JSON lines (`application/x-ndjson`), which schemathesis cannot
write by itself: one JSON value per line (an array is its elements)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(v) + "\n" for v in items).encode()
