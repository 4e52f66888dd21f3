"""The gateway through the official `openai` and `anthropic` Python SDKs.
After every call, the ledger's row must hold exactly the tokens the SDK saw."""

import anthropic
import openai
import pytest

SUPPORT = {"x-tokenwise-use-case": "support-reply"}


@pytest.fixture(scope="module")
def oai(gateway):
    return openai.OpenAI(api_key=gateway.key("ivan.petrov", "support-reply"), base_url=f"{gateway.url}/v1", max_retries=0)


@pytest.fixture(scope="module")
def ant(gateway):
    return anthropic.Anthropic(api_key=gateway.key("jade.nguyen", "support-reply"), base_url=gateway.url, max_retries=0)


def check_openai(row, usage):
    assert row["usage"]["input"] == usage.prompt_tokens
    assert row["usage"]["output"] == usage.completion_tokens
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    assert row["usage"]["cached_read"] == (cached or 0)
    reasoning = usage.completion_tokens_details.reasoning_tokens if usage.completion_tokens_details else 0
    assert row["usage"]["reasoning"] == (reasoning or 0)
    assert row["estimated"] is False
    assert row["status"] == "ok"


def check_anthropic(row, usage):
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    assert row["usage"]["input"] == usage.input_tokens + read + write
    assert row["usage"]["cached_read"] == read
    assert row["usage"]["cache_write"] == write
    assert row["usage"]["output"] == usage.output_tokens
    assert row["estimated"] is False
    assert row["status"] == "ok"


def test_chat_json(gateway, oai):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "Where is my refund for order 1042?"}]
    )
    completion = raw.parse()
    row = gateway.row(raw.headers["x-tokenwise-request-id"])
    check_openai(row, completion.usage)
    assert raw.headers["x-tokenwise-cost-usd"] == row["cost_usd"]
    assert completion.choices[0].message.content


def test_chat_stream_with_usage(gateway, oai):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4.1-mini",
        messages=[{"role": "user", "content": "Summarise this ticket"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1
    check_openai(gateway.row(raw.headers["x-tokenwise-request-id"]), usage[0])


def test_chat_stream_without_usage_is_still_metered_exactly(gateway, oai):
    messages = [{"role": "user", "content": "Draft a polite apology"}]
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4.1-mini", messages=messages, stream=True)
    chunks = list(raw.parse())
    assert all(c.usage is None for c in chunks), "the forced usage chunk must not reach this client"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    row = gateway.row(raw.headers["x-tokenwise-request-id"])
    # The mock is deterministic: the same prompt with usage requested tells
    # what the first stream really used.
    twin = oai.chat.completions.create(
        model="gpt-4.1-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    twin_usage = [c.usage for c in twin if c.usage][0]
    check_openai(row, twin_usage)
    assert text


def test_cached_and_reasoning_tokens(gateway):
    client = openai.OpenAI(api_key=gateway.key("chen.wei", "code-review"), base_url=f"{gateway.url}/v1", max_retries=0)
    system = {"role": "system", "content": "You review diffs for Acme. Check tests, migrations and security. " * 12}
    for question in ("Review diff A", "Review diff B"):
        raw = client.chat.completions.with_raw_response.create(
            model="o4-mini", messages=[system, {"role": "user", "content": question}]
        )
        c = raw.parse()
        check_openai(gateway.row(raw.headers["x-tokenwise-request-id"]), c.usage)
    assert c.usage.prompt_tokens_details.cached_tokens > 0
    assert c.usage.completion_tokens_details.reasoning_tokens > 0


def test_embeddings(gateway):
    client = openai.OpenAI(api_key=gateway.key("xin.zhao", "kb-search"), base_url=f"{gateway.url}/v1", max_retries=0)
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["refund policy", "invoice"])
    e = raw.parse()
    assert len(e.data) == 2 and len(e.data[0].embedding) > 0
    row = gateway.row(raw.headers["x-tokenwise-request-id"])
    assert row["usage"]["input"] == e.usage.prompt_tokens
    assert row["operation"] == "embeddings"


def test_models_lists_what_the_key_may_use(gateway):
    key = gateway.key("xin.zhao", "kb-search")
    client = openai.OpenAI(api_key=key, base_url=f"{gateway.url}/v1")
    expected = ["claude-haiku-4-5", "gpt-4.1-mini", "text-embedding-3-small"]
    assert sorted(m.id for m in client.models.list()) == expected
    ant = anthropic.Anthropic(api_key=key, base_url=gateway.url)
    assert sorted(m.id for m in ant.models.list()) == expected


def test_messages_json(gateway, ant):
    raw = ant.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Is my order late?"}]
    )
    m = raw.parse()
    check_anthropic(gateway.row(raw.headers["x-tokenwise-request-id"]), m.usage)
    assert m.content[0].text


def test_messages_stream_with_cache(gateway, ant):
    system = [{"type": "text", "text": "Acme refund policy: " * 40, "cache_control": {"type": "ephemeral"}}]
    for question in ("Can I get a refund?", "And a credit note?"):
        with ant.messages.stream(
            model="claude-haiku-4-5", max_tokens=64, system=system, messages=[{"role": "user", "content": question}]
        ) as stream:
            final = stream.get_final_message()
            request_id = stream.response.headers["x-tokenwise-request-id"]
        check_anthropic(gateway.row(request_id), final.usage)
    assert final.usage.cache_read_input_tokens > 0


def test_refusals_surface_as_sdk_errors_with_our_code(gateway, oai, ant):
    with pytest.raises(openai.PermissionDeniedError) as e:
        oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "policy_violation"
    assert "claude-haiku-4-5" in e.value.message

    bad = openai.OpenAI(api_key="tw_wrong", base_url=f"{gateway.url}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "unauthorized"

    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-tokenwise-use-case": "nope"}
        )
    assert e.value.code == "invalid_request"

    with pytest.raises(openai.RateLimitError) as e:
        oai.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-mock-fault": "status-429"}
        )
    assert e.value.code == "rate_limited"

    with pytest.raises(openai.InternalServerError) as e:
        oai.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-mock-fault": "status-500"}
        )
    assert e.value.status_code == 502 and e.value.code == "upstream_error"

    with pytest.raises(anthropic.PermissionDeniedError) as e:
        ant.messages.create(
            model="gpt-4.1-mini", max_tokens=10, messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-tokenwise-use-case": "code-review"},
        )
    assert e.value.body["error"]["code"] == "policy_violation"

    bad_ant = anthropic.Anthropic(api_key="tw_wrong", base_url=gateway.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad_ant.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["code"] == "unauthorized"


def test_a_cut_stream_raises_and_leaves_one_estimated_row(gateway, oai):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4.1-mini",
        messages=[{"role": "user", "content": "Tell me a long story"}],
        stream=True,
        extra_headers={"x-mock-fault": "reset", "x-mock-fault-after": "5"},
    )
    with pytest.raises(openai.APIError):
        for _ in raw.parse():
            pass
    row = gateway.row(raw.headers["x-tokenwise-request-id"])
    assert row["estimated"] is True
    assert row["status"] == "upstream_cut"
    assert row["usage"]["input"] > 0 and row["usage"]["output"] > 0


def test_every_call_is_metered_exactly(gateway, oai, ant):
    """A mixed run of 60 calls: 100% of ledger rows equal the SDK's usage."""
    checked = 0
    for i in range(15):
        prompt = [{"role": "user", "content": f"Question {i}: " + "why " * i}]
        raw = oai.chat.completions.with_raw_response.create(model="gpt-4.1-mini", messages=prompt, max_tokens=5 + i)
        check_openai(gateway.row(raw.headers["x-tokenwise-request-id"]), raw.parse().usage)
        raw = oai.chat.completions.with_raw_response.create(
            model="gpt-4.1-mini",
            messages=prompt,
            stream=True,
            stream_options={"include_usage": True},
        )
        usage = [c.usage for c in raw.parse() if c.usage][0]
        check_openai(gateway.row(raw.headers["x-tokenwise-request-id"]), usage)
        raw = ant.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=5 + i, messages=prompt)
        check_anthropic(gateway.row(raw.headers["x-tokenwise-request-id"]), raw.parse().usage)
        with ant.messages.stream(model="claude-haiku-4-5", max_tokens=5 + i, messages=prompt) as s:
            final = s.get_final_message()
            rid = s.response.headers["x-tokenwise-request-id"]
        check_anthropic(gateway.row(rid), final.usage)
        checked += 4
    assert checked == 60
