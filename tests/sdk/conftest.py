"""Starts the real binary for the SDK suite: mock-upstream and serve on
random loopback ports, a copy of examples/acme.toml pointed at the mock, keys
made with `tokenwise keys create`. The ledger is read back through the
events API with a governance key."""

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("TOKENWISE_BIN", str(REPO / "target" / "debug" / "tokenwise"))
ENV = {**os.environ, "OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-ant-test", "TOKENWISE_LOG": "error"}


def spawn(*args):
    proc = subprocess.Popen([BIN, *args], stdout=subprocess.PIPE, env=ENV, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on http://(\S+)", line)
    assert m, f"no address in {line!r}"
    return proc, m.group(1)


class Gateway:
    def __init__(self, tmp: Path, edit=lambda policy: policy, manual_clock=False):
        self.tmp = tmp
        self.mock, mock_addr = spawn("mock-upstream", "--listen", "127.0.0.1:0")
        shutil.copytree(REPO / "examples" / "prices", tmp / "prices")
        policy = (REPO / "examples" / "acme.toml").read_text()
        policy = policy.replace("http://127.0.0.1:9100", f"http://{mock_addr}")
        policy = policy.replace("timeout_secs = ", 'forward_headers = ["x-mock-*"]\ntimeout_secs = ')
        policy = edit(policy)
        self.policy = tmp / "acme.toml"
        self.policy.write_text(policy)
        self.db = f"sqlite://{tmp / 'ledger.db'}"
        clock = ["--manual-clock", "now"] if manual_clock else []
        self.serve, addr = spawn("serve", "--config", str(self.policy), "--listen", "127.0.0.1:0", "--database", self.db, *clock)
        self.url = f"http://{addr}"
        self.admin = self.key("omar.haddad")

    def key(self, user, use_case=None):
        cmd = [BIN, "keys", "create", "--config", str(self.policy), "--database", self.db, "--user", user]
        if use_case:
            cmd += ["--use-case", use_case]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout.strip()

    def events(self, **query):
        """Ledger rows, as governance reads them (`task=…`, `request_id=…`)."""
        req = urllib.request.Request(
            f"{self.url}/api/v1/events?{urllib.parse.urlencode(query)}",
            headers={"Authorization": f"Bearer {self.admin}"},
        )
        with urllib.request.urlopen(req) as r:
            return json.load(r)["events"]

    def advance(self, secs):
        """Moves a manual clock on (as an admin); the server runs its upkeep
        and recomputes the usual cost of a task before answering."""
        req = urllib.request.Request(
            f"{self.url}/api/v1/admin/clock",
            data=json.dumps({"advance_secs": secs}).encode(),
            headers={"Authorization": f"Bearer {self.key('hugo.martin')}", "content-type": "application/json"},
        )
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def row(self, request_id):
        """The one ledger row of a request."""
        events = self.events(request_id=request_id)
        assert len(events) == 1, f"expected exactly one row for {request_id}, got {len(events)}"
        return events[0]

    def stop(self):
        for p in (self.serve, self.mock):
            p.terminate()
            p.wait(timeout=10)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    g = Gateway(tmp_path_factory.mktemp("gateway"))
    yield g
    g.stop()


@pytest.fixture(scope="session")
def gateway_block(tmp_path_factory):
    """The same company, its policy set to block confidential data."""
    g = Gateway(tmp_path_factory.mktemp("block"), lambda p: p.replace('confidential = "reroute"', 'confidential = "block"'))
    yield g
    g.stop()


@pytest.fixture(scope="session")
def gateway_redact(tmp_path_factory):
    """The same company, its policy set to mask confidential data."""
    g = Gateway(tmp_path_factory.mktemp("redact"), lambda p: p.replace('confidential = "reroute"', 'confidential = "redact"'))
    yield g
    g.stop()


@pytest.fixture(scope="session")
def gateway_reroute(tmp_path_factory):
    """The same company, support replies also allowed on the on-premises
    model, so confidential prompts are rerouted there."""
    g = Gateway(
        tmp_path_factory.mktemp("reroute"),
        lambda p: p.replace(
            'allowed_models = ["claude-haiku-4-5", "gpt-4.1-mini", "claude-sonnet-4-5"]',
            'allowed_models = ["claude-haiku-4-5", "gpt-4.1-mini", "claude-sonnet-4-5", "acme-llama-70b"]',
        ),
    )
    yield g
    g.stop()


@pytest.fixture(scope="session")
def gateway_tight(tmp_path_factory):
    """The same company, each person's daily allowance cut to $0.00001, so
    any call exceeds it."""
    g = Gateway(tmp_path_factory.mktemp("tight"), lambda p: p.replace('limit_usd = "20"', 'limit_usd = "0.00001"'))
    yield g
    g.stop()
