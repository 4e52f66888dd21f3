"""The tools people use, set up exactly as README.md's "Use it with your
tools" says: Claude Code and Codex CLI (installed from npm at the versions
pinned in tests/agents/, by scripts/test) and the SDK snippet, each running
through the gateway to mock-upstream in the use case a developer picks,
`code-sandbox`. Every call is one `ok` row whose usage equals what the
agent itself reports the provider sent; a tool loop's second request
carries the tool's output, which is scanned like any prompt."""

import json
import os
import re
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import REPO

AGENTS = Path(os.environ.get("TOKENWISE_AGENTS_BIN", REPO / "tests" / "agents" / "node_modules" / ".bin"))
README_URL = "http://127.0.0.1:8080"
README_TASK = "PLAT-311"


def section():
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Use it with your tools")
    return readme[start : readme.index("\n## ", start + 1)]


def block(lang, marker):
    """The one ```lang block of the section that contains marker."""
    found = [b for b in re.findall(rf"```{lang}\n(.*?)```", section(), re.S) if marker in b]
    assert len(found) == 1, f"exactly one ```{lang} block with {marker!r} in the README's section"
    return found[0]


def readme_key(gateway):
    """A key made as the section's `keys create` line says."""
    line = block("sh", "tokenwise keys create")
    user = re.search(r"--user (\S+)", line).group(1)
    use_case = re.search(r"--use-case ([^\s)]+)", line).group(1)
    assert use_case == "code-sandbox", "the README shows the use case a developer would pick"
    return gateway.key(user, use_case)


def fill(text, gateway, key, task):
    """A README setting made concrete for this gateway, key and task."""
    return text.replace(README_URL, gateway.url).replace("$KEY", key).replace(README_TASK, task)


def agent(name):
    path = AGENTS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: scripts/test installs the agents (npm ci in tests/agents)")
    return str(path)


def clean_env(home):
    """No provider keys or agent settings of the machine's own leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "CLAUDE_", "CODEX_"))}
    return {**env, "HOME": str(home), "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


@pytest.fixture
def work(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "repo").mkdir()
    return tmp_path


def new_task():
    return f"AGENT-{uuid.uuid4().hex[:10]}"


def run(cmd, env, cwd):
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


def total(rows, kind):
    return sum(r["usage"][kind] for r in rows)


def assert_ok(rows, operation):
    assert rows, "the agent's calls left rows"
    for r in rows:
        assert r["status"] == "ok", r
        assert r["use_case"] == "code-sandbox", r
        assert r["operation"] == operation, r
        assert r["estimated"] is False, r


# Claude Code


def claude(gateway, work, task, prompt, tool_call=None):
    """`claude -p` as the README sets it up, with its JSON result."""
    key = readme_key(gateway)
    settings = block("sh", "ANTHROPIC_BASE_URL")
    env = clean_env(work / "home")
    for name, value in re.findall(r"^export (\w+)=(.*)$", settings, re.M):
        env[name] = fill(value.strip().strip('"'), gateway, key, task)
    if tool_call:
        # The mock's model calls this tool first; the agent runs it and sends the result back.
        env["ANTHROPIC_CUSTOM_HEADERS"] += f"\nx-mock-tool-call: {tool_call}"
    command = re.search(r'^claude -p "([^"]*)"$', settings, re.M)
    assert command, "the README runs a one-shot prompt with `claude -p`"
    p = run([agent("claude"), "-p", "--output-format", "json", prompt or command.group(1)], env, work / "repo")
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


def check_claude_usage(rows, out):
    """Anthropic counts input apart from cache reads and writes; the ledger's
    input is all of it. The cost is Claude Code's own, to the nano-dollar."""
    u = out["usage"]
    assert total(rows, "output") == u["output_tokens"]
    assert total(rows, "cache_write") == u["cache_creation_input_tokens"]
    assert total(rows, "cached_read") == u["cache_read_input_tokens"]
    assert total(rows, "input") == u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
    cost = sum(Decimal(r["cost_usd"]) for r in rows)
    assert cost == Decimal(str(out["total_cost_usd"])).quantize(Decimal("1e-9")), (cost, out["total_cost_usd"])


def test_claude_code_answers_a_prompt_in_code_sandbox(gateway, work):
    task = new_task()
    out = claude(gateway, work, task, None)
    assert out["is_error"] is False, out
    rows = gateway.events(task=task)
    assert_ok(rows, "messages")
    assert all(r["streamed"] for r in rows)
    check_claude_usage(rows, out)


def test_claude_code_runs_a_tool_loop_through_the_gateway(gateway, work):
    (work / "repo" / "build.log").write_text("error[E0308]: mismatched types in src/lib.rs:42\n")
    task = new_task()
    read = json.dumps({"file_path": str(work / "repo" / "build.log")})
    out = claude(gateway, work, task, "Why does the build fail? See build.log", f"Read {read}")
    assert out["is_error"] is False, out
    assert out["num_turns"] == 2, out
    rows = gateway.events(task=task)
    assert len(rows) == 2
    assert_ok(rows, "messages")
    check_claude_usage(rows, out)


def test_claude_code_tool_result_with_a_card_number_is_blocked(gateway, work):
    (work / "repo" / "customer.txt").write_text("refund to card 4111 1111 1111 1111\n")
    task = new_task()
    read = json.dumps({"file_path": str(work / "repo" / "customer.txt")})
    out = claude(gateway, work, task, "What does customer.txt say?", f"Read {read}")
    assert out["is_error"] is True and out["api_error_status"] == 403, out
    assert "blocked: restricted data may not go to this model here" in out["result"]
    first, refused = sorted(gateway.events(task=task), key=lambda r: r["ts"])
    assert first["status"] == "ok"
    assert refused["status"] == "blocked" and refused["error_code"] == "policy_violation", refused
    assert refused["findings"] == {"credit_card": 1}, refused
    assert refused["cost_nanos"] == 0


# Codex CLI


def codex(gateway, work, task, prompt, tool_call=None, retries=None):
    """`codex exec --json` with the README's config.toml, and its events."""
    key = readme_key(gateway)
    config = fill(block("toml", "wire_api"), gateway, key, task)
    env_key = re.search(r'env_key = "(\w+)"', config).group(1)
    if tool_call:
        header = json.dumps(tool_call)
        config = config.replace("http_headers = { ", f'http_headers = {{ "x-mock-tool-call" = {header}, ')
    if retries is not None:
        config = config.replace('wire_api = "responses"', f'wire_api = "responses"\nstream_max_retries = {retries}')
    home = work / "home"
    (home / ".codex").mkdir(exist_ok=True)
    (home / ".codex" / "config.toml").write_text(config)
    env = {**clean_env(home), env_key: key}
    command = re.search(r'`\w+=\$KEY codex exec "([^"]*)"`', section())
    assert command, "the README runs a one-shot prompt with `codex exec`"
    cmd = [agent("codex"), "exec", "--json", "--skip-git-repo-check", prompt or command.group(1)]
    p = run(cmd, env, work / "repo")
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def usage_of(events):
    done = [e for e in events if e["type"] == "turn.completed"]
    assert len(done) == 1, events
    return done[0]["usage"]


def check_codex_usage(rows, u):
    assert total(rows, "input") == u["input_tokens"]
    assert total(rows, "cached_read") == u["cached_input_tokens"]
    assert total(rows, "output") == u["output_tokens"]
    assert total(rows, "reasoning") == u["reasoning_output_tokens"]


def test_codex_exec_answers_a_prompt_in_code_sandbox(gateway, work):
    task = new_task()
    events = codex(gateway, work, task, None)
    assert any(e["type"] == "item.completed" and e["item"]["type"] == "agent_message" for e in events), events
    rows = gateway.events(task=task)
    assert len(rows) == 1
    assert_ok(rows, "responses")
    check_codex_usage(rows, usage_of(events))


def test_codex_runs_a_command_and_sends_its_output_back(gateway, work):
    (work / "repo" / "build.log").write_text("error[E0308]: mismatched types in src/lib.rs:42\n")
    task = new_task()
    events = codex(gateway, work, task, "Why does the build fail?", 'exec_command {"cmd": "cat build.log"}')
    ran = [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == "command_execution"]
    assert ran and "mismatched types" in ran[0]["aggregated_output"], events
    rows = gateway.events(task=task)
    assert len(rows) == 2
    assert_ok(rows, "responses")
    check_codex_usage(rows, usage_of(events))


def test_codex_function_call_output_with_a_card_number_is_blocked(gateway, work):
    (work / "repo" / "customer.txt").write_text("refund to card 4111 1111 1111 1111\n")
    task = new_task()
    events = codex(gateway, work, task, "What does customer.txt say?", 'exec_command {"cmd": "cat customer.txt"}', 0)
    failed = [e for e in events if e["type"] == "turn.failed"]
    assert failed and "403" in failed[0]["error"]["message"], events
    assert "or remove the 1 credit_card from the prompt" in failed[0]["error"]["message"]
    first, refused = sorted(gateway.events(task=task), key=lambda r: r["ts"])
    assert first["status"] == "ok"
    assert refused["status"] == "blocked" and refused["findings"] == {"credit_card": 1}, refused
    assert refused["operation"] == "responses"


def test_codex_retries_a_refused_turn_and_each_attempt_is_recorded(gateway, work):
    """What the README warns about: with Codex's default retries a refused
    turn is sent again, refused again and recorded again."""
    (work / "repo" / "customer.txt").write_text("refund to card 4111 1111 1111 1111\n")
    task = new_task()
    events = codex(gateway, work, task, "What does customer.txt say?", 'exec_command {"cmd": "cat customer.txt"}', 2)
    attempts = [e for e in events if e["type"] == "error"]
    rows = gateway.events(task=task)
    refused = [r for r in rows if r["status"] == "blocked"]
    assert len(refused) == len(attempts) == 3, (rows, attempts)


# The SDK snippet


def test_the_sdk_snippet_runs_and_is_metered(gateway):
    key = readme_key(gateway)
    task = new_task()
    snippet = fill(block("python", "default_headers"), gateway, key, task)
    exec(compile(snippet, "README.md", "exec"), {"KEY": key})  # noqa: S102 - the README's own code
    rows = gateway.events(task=task)
    assert sorted(r["operation"] for r in rows) == ["chat_completions", "messages", "responses"]
    for r in rows:
        assert_ok([r], r["operation"])
