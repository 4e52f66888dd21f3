"""The cost of each task in plain words, through the official SDKs: every
answer to a call naming a task carries `x-tokenwise-task-cost-usd`, and once
finished tasks give a usual cost, a wasteful task gets `x-tokenwise-nudge`
(ASCII words the SDKs hand over as they are) and a usual one does not."""

from decimal import Decimal

import anthropic
import openai
import pytest

from conftest import Gateway

SHORT = ["Customer asks where their refund is. Draft a reply.", "Make it shorter."]
PADDING = "Please consider the whole history of this customer once more. " * 15
TEMPLATE = "support-refund@3"


@pytest.fixture
def gateway_clock(tmp_path):
    """A fresh company on a manual clock: no task has finished yet."""
    g = Gateway(tmp_path, manual_clock=True)
    yield g
    g.stop()


def openai_call(client, task, text):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4.1-mini",
        max_tokens=60,
        messages=[{"role": "user", "content": text}],
        extra_headers={"x-tokenwise-task": task, "x-tokenwise-template": TEMPLATE},
    )
    raw.parse()
    return raw.headers


def anthropic_call(client, task, text):
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=60,
        messages=[{"role": "user", "content": text}],
        extra_headers={"x-tokenwise-task": task, "x-tokenwise-template": TEMPLATE},
    )
    raw.parse()
    return raw.headers


def usual_tasks_then_a_wasteful_one(g, clients, call):
    """Five usual tasks finish; then a usual task is told nothing and a
    wasteful one is nudged. Returns the nudge."""
    for k, client in enumerate(clients):
        for text in SHORT:
            call(client, f"R-{k}", text)
    g.advance(3700)  # an hour of quiet: those tasks are finished

    spent = Decimal(0)
    for text in SHORT:
        headers = call(clients[0], "R-new", text)
        assert "x-tokenwise-nudge" not in headers, headers["x-tokenwise-nudge"]
        spent += Decimal(headers["x-tokenwise-cost-usd"])
        assert Decimal(headers["x-tokenwise-task-cost-usd"]) == spent

    for i in range(30):
        headers = call(clients[1], "R-waste", f"{i} {PADDING}")
        nudge = headers.get("x-tokenwise-nudge")
        if nudge:
            task_cost = Decimal(headers["x-tokenwise-task-cost-usd"])
            rows = g.events(task="R-waste", user="jade.nguyen")
            assert task_cost == sum(Decimal(r["cost_usd"]) for r in rows)
            return nudge
    pytest.fail("the wasteful task was never nudged")


PEOPLE = ["ivan.petrov", "jade.nguyen", "kofi.mensah", "lena.schulz", "marco.rossi"]


def test_openai_sdk_sees_the_nudge_on_a_wasteful_task_only(gateway_clock):
    g = gateway_clock
    clients = [openai.OpenAI(api_key=g.key(p, "support-reply"), base_url=f"{g.url}/v1", max_retries=0) for p in PEOPLE]
    nudge = usual_tasks_then_a_wasteful_one(g, clients, openai_call)
    assert nudge.startswith("this task has cost $") and f"x the usual for {TEMPLATE} ($" in nudge, nudge


def test_anthropic_sdk_sees_the_nudge_on_a_wasteful_task_only(gateway_clock):
    g = gateway_clock
    clients = [anthropic.Anthropic(api_key=g.key(p, "support-reply"), base_url=g.url, max_retries=0) for p in PEOPLE]
    nudge = usual_tasks_then_a_wasteful_one(g, clients, anthropic_call)
    assert nudge.startswith("this task has cost $") and f"x the usual for {TEMPLATE} ($" in nudge, nudge
