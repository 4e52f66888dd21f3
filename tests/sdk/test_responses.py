"""The OpenAI Responses API through the official `openai` SDK's
`client.responses`: JSON and streamed, the ledger's row holding exactly
the usage the SDK saw."""

import openai
import pytest


@pytest.fixture(scope="module")
def oai(gateway):
    return openai.OpenAI(api_key=gateway.key("ivan.petrov", "support-reply"), base_url=f"{gateway.url}/v1", max_retries=0)


def check(row, usage):
    assert row["operation"] == "responses"
    assert row["usage"]["input"] == usage.input_tokens
    assert row["usage"]["output"] == usage.output_tokens
    assert row["usage"]["cached_read"] == (usage.input_tokens_details.cached_tokens or 0)
    assert row["usage"]["reasoning"] == (usage.output_tokens_details.reasoning_tokens or 0)
    assert row["estimated"] is False
    assert row["status"] == "ok"


def test_responses_json(gateway, oai):
    raw = oai.responses.with_raw_response.create(
        model="gpt-4.1-mini",
        instructions="You are Acme's support assistant.",
        input="Where is my refund for order 1042?",
        max_output_tokens=200,
    )
    response = raw.parse()
    assert response.output_text
    row = gateway.row(raw.headers["x-tokenwise-request-id"])
    check(row, response.usage)
    assert raw.headers["x-tokenwise-cost-usd"] == row["cost_usd"]


def test_responses_stream(gateway, oai):
    raw = oai.responses.with_raw_response.create(
        model="gpt-4.1-mini",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Summarise this ticket"}]}],
        stream=True,
    )
    events = list(raw.parse())
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and text == events[-1].response.output_text
    check(gateway.row(raw.headers["x-tokenwise-request-id"]), events[-1].response.usage)


def test_responses_with_tool_output_and_reasoning_model(gateway):
    client = openai.OpenAI(api_key=gateway.key("chen.wei", "code-review"), base_url=f"{gateway.url}/v1", max_retries=0)
    raw = client.responses.with_raw_response.create(
        model="o4-mini",
        input=[
            {"role": "user", "content": "Is the build green?"},
            {"type": "function_call", "call_id": "call_1", "name": "ci_status", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "12 passed, 0 failed"},
        ],
        tools=[
            {
                "type": "function",
                "name": "ci_status",
                "description": "The CI status",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            }
        ],
        stream=True,
    )
    events = list(raw.parse())
    usage = events[-1].response.usage
    assert usage.output_tokens_details.reasoning_tokens > 0
    check(gateway.row(raw.headers["x-tokenwise-request-id"]), usage)
