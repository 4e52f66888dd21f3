"""OpenTelemetry GenAI spans from the official OpenTelemetry Python SDK,
exported over OTLP/HTTP (protobuf) to tokenwise with the exporter settings
README.md's "Ingest usage from elsewhere" section shows, land in the ledger
as priced usage events of the person and use case they name; a span with no
GenAI usage is ignored, a span sent twice is stored once, and a plain
user's key is refused."""

import os
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

REPO = Path(__file__).resolve().parents[2]
README_URL = "http://127.0.0.1:8080"


def readme_exports():
    """The README's `export OTEL_…=…` lines, as name → value."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Ingest usage from elsewhere")
    section = readme[start : readme.index("\n## ", start + 1)]
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if "OTEL_EXPORTER_OTLP" in b]
    assert len(blocks) == 1, "exactly one ```sh block of exporter settings in the README's section"
    exports = re.findall(r'^export (\w+)="?(.*?)"?$', blocks[0], re.M)
    assert exports, blocks[0]
    return dict(exports)


def exporter(gateway, key, monkeypatch):
    """The SDK's OTLP/HTTP exporter, configured only through the README's
    environment variables (pointed at this gateway, with this key)."""
    for name, value in readme_exports().items():
        monkeypatch.setenv(name, value.replace(README_URL, gateway.url).replace("$KEY", key))
    return OTLPSpanExporter()


def genai_spans(task):
    """Spans as an instrumented app records them: a chat call with GenAI
    usage (OTel's input count includes the cached tokens), and an HTTP span
    without any. Recorded in memory, to be exported as the app would."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "kb-assistant", "user.id": "xin.zhao@acme.example"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("kb-assistant")
    with tracer.start_as_current_span("GET /answer", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("chat gpt-4.1-mini", kind=SpanKind.CLIENT) as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4.1-mini")
            span.set_attribute("gen_ai.response.model", "gpt-4.1-mini")
            span.set_attribute("gen_ai.usage.input_tokens", 1200)
            span.set_attribute("gen_ai.usage.cache_read.input_tokens", 200)
            span.set_attribute("gen_ai.usage.output_tokens", 300)
            span.set_attribute("tokenwise.use_case", "kb-search")
            span.set_attribute("tokenwise.task", task)
    provider.shutdown()
    return memory.get_finished_spans()


def test_spans_from_the_official_sdk_land_as_priced_events(gateway, monkeypatch):
    task = f"OTEL-{uuid.uuid4().hex[:8]}"
    spans = genai_spans(task)
    assert len(spans) == 2
    export = exporter(gateway, gateway.admin, monkeypatch)
    assert export.export(spans) == SpanExportResult.SUCCESS

    rows = gateway.events(task=task)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["user_id"], row["team_id"], row["use_case"]) == ("xin.zhao", "data", "kb-search")
    assert (row["operation"], row["source"], row["model"]) == ("ingested", "ingest_otlp", "gpt-4.1-mini")
    assert row["usage"]["input"] == 1200 and row["usage"]["cached_read"] == 200 and row["usage"]["output"] == 300
    # Priced with the price book: 1,000 uncached at $0.40/M, 200 cached at
    # $0.10/M, 300 out at $1.60/M.
    assert Decimal(row["cost_usd"]) == Decimal("0.0009"), row
    assert row["price_version"].startswith("gpt-4.1-mini@"), row

    # The exporter retries what it is not sure was received: sent again, the
    # span is stored once.
    assert export.export(spans) == SpanExportResult.SUCCESS
    assert len(gateway.events(task=task)) == 1
    export.shutdown()


def test_a_plain_users_key_may_not_export_usage(gateway, monkeypatch):
    task = f"OTEL-{uuid.uuid4().hex[:8]}"
    export = exporter(gateway, gateway.key("xin.zhao", "kb-search"), monkeypatch)
    assert export.export(genai_spans(task)) == SpanExportResult.FAILURE
    assert gateway.events(task=task) == []
    export.shutdown()
