"""Budget refusals through the official SDKs: the 402 body names the
budget, scope, period and amounts as fields of `error`, so a client reads
them from the exception instead of parsing the message."""

import re
from decimal import Decimal

import anthropic
import openai
import pytest

ASK = [{"role": "user", "content": "Where is my refund?"}]


def check_fields(error, user, response):
    assert error["code"] == "budget_exceeded"
    assert error["budget"] == "per-person-daily"
    assert error["scope"] == f"user:{user}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", error["period"]), error["period"]
    # Exact decimal strings, the same figures as the header and the message.
    assert error["remaining_usd"] == "0.00001" == response.headers["x-tokenwise-budget-remaining-usd"]
    assert Decimal(error["needed_usd"]) > Decimal(error["remaining_usd"])
    assert f"may cost up to ${error['needed_usd']}" in error["message"]
    assert f"period from {error['period']}" in error["message"]


def test_openai_sdk_exposes_the_refusal_fields(gateway_tight):
    g = gateway_tight
    client = openai.OpenAI(api_key=g.key("ivan.petrov", "support-reply"), base_url=f"{g.url}/v1", max_retries=0)
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="gpt-4.1-mini", max_tokens=50, messages=ASK)
    assert e.value.status_code == 402 and e.value.code == "budget_exceeded"
    # The OpenAI SDK keeps the `error` object as the body.
    check_fields(e.value.body, "ivan.petrov", e.value.response)


def test_anthropic_sdk_exposes_the_refusal_fields(gateway_tight):
    g = gateway_tight
    client = anthropic.Anthropic(api_key=g.key("jade.nguyen", "support-reply"), base_url=g.url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as e:
        client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=ASK)
    assert e.value.status_code == 402
    # The Anthropic SDK keeps the whole body.
    check_fields(e.value.body["error"], "jade.nguyen", e.value.response)
