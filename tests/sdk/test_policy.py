"""Policy decisions through the official OpenAI SDK: the same confidential
prompt is blocked with a nudge, masked, or rerouted, depending on the
policy, and the ledger shows which."""

import openai
import pytest

PROMPT = [{"role": "user", "content": "echo: please reply to jane.doe@example.com about the refund"}]


def client(g):
    return openai.OpenAI(api_key=g.key("ivan.petrov", "support-reply"), base_url=f"{g.url}/v1", max_retries=0)


def test_blocked_with_a_nudge_naming_the_alternative(gateway_block):
    gateway = gateway_block
    with pytest.raises(openai.PermissionDeniedError) as e:
        client(gateway).chat.completions.create(model="gpt-4.1-mini", messages=PROMPT)
    err = e.value
    assert err.code == "policy_violation"
    assert "use model `claude-haiku-4-5`" in err.message
    assert "x-tokenwise-nudge" in err.response.headers
    row = gateway.row(err.response.headers["x-tokenwise-request-id"])
    assert row["decision"] == "block" and row["status"] == "blocked"
    assert row["findings"] == {"email": 1} and row["data_class"] == "confidential"


def test_redacted_when_the_policy_says_redact(gateway_redact):
    raw = client(gateway_redact).chat.completions.with_raw_response.create(model="gpt-4.1-mini", messages=PROMPT)
    reply = raw.parse().choices[0].message.content
    # The mock model echoes what it received: the address never reached it.
    assert reply == "please reply to [EMAIL] about the refund"
    assert "masked" in raw.headers["x-tokenwise-nudge"]
    row = gateway_redact.row(raw.headers["x-tokenwise-request-id"])
    assert row["decision"] == "redact" and row["status"] == "ok"
    assert row["model"] == "gpt-4.1-mini"


def test_rerouted_when_the_policy_says_reroute(gateway_reroute):
    raw = client(gateway_reroute).chat.completions.with_raw_response.create(model="gpt-4.1-mini", messages=PROMPT)
    completion = raw.parse()
    assert completion.model == "meta-llama/Llama-3.3-70B-Instruct"
    assert "jane.doe@example.com" in completion.choices[0].message.content
    assert "rerouted from `gpt-4.1-mini` to `acme-llama-70b`" in raw.headers["x-tokenwise-nudge"]
    row = gateway_reroute.row(raw.headers["x-tokenwise-request-id"])
    assert row["decision"] == "reroute"
    assert (row["requested_model"], row["model"]) == ("gpt-4.1-mini", "acme-llama-70b")
    assert row["usage"]["input"] == completion.usage.prompt_tokens


def test_rerouted_across_formats_with_the_example_policy(gateway):
    """Acme's own policy: confidential prompts reroute; the cheapest cleared
    model for support replies is Claude Haiku, reached in the Anthropic
    format and answered in OpenAI's."""
    oai = client(gateway)
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4.1-mini", messages=PROMPT)
    completion = raw.parse()
    assert completion.model == "claude-haiku-4-5"
    assert completion.choices[0].message.content == "please reply to jane.doe@example.com about the refund"
    row = gateway.row(raw.headers["x-tokenwise-request-id"])
    assert (row["decision"], row["model"]) == ("reroute", "claude-haiku-4-5")
    assert row["usage"]["input"] == completion.usage.prompt_tokens
    assert row["usage"]["output"] == completion.usage.completion_tokens
    stream = oai.chat.completions.create(
        model="gpt-4.1-mini", messages=PROMPT, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("please reply")
    assert [c.usage for c in chunks if c.usage][0].completion_tokens > 0
