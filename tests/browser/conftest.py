"""The dashboard in a real browser: Debian's chromium driven by playwright
(never a browser playwright downloads). One server for the whole suite,
holding a simulated month: `tokenwise demo --no-serve` fills a ledger with
the first days of Acme's month, then `tokenwise serve` opens it on a manual
clock at the evening of the last simulated day, with a copy of
examples/acme.toml that trusts 127.0.0.1 as a sign-on proxy. Each role logs
in with a key made by `tokenwise keys create`. Every test saves what it saw
to target/browser-screenshots/NAME.png, to be looked at.

A new view's tests: a module test_VIEW.py using the `dash` fixture,
`login(page, dash, ROLE)` and `shot(page, NAME)`."""

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("TOKENWISE_BIN", str(REPO / "target" / "debug" / "tokenwise"))
CHROMIUM = os.environ.get("TOKENWISE_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "target" / "browser-screenshots"
ENV = {**os.environ, "TOKENWISE_LOG": "error"}
DAYS = 6
# The evening of the last simulated day (the demo's month is November 2026).
CLOCK = f"2026-11-{DAYS:02d}T20:00:00Z"
# One person of each role in examples/acme.toml.
PEOPLE = {
    "member": "ivan.petrov",
    # In the example pilot's cohort (the platform team).
    "cohort": "diego.santos",
    "manager": "lucia.fernandez",
    "governance": "omar.haddad",
    "finance": "carl.johansson",
    "admin": "hugo.martin",
}


class Dash:
    """The server under test and one API key per role."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        data = tmp / "demo"
        subprocess.run(
            [BIN, "demo", "--no-serve", "--data-dir", str(data), "--days", str(DAYS), "--listen", "127.0.0.1:0"],
            check=True, env=ENV, stdout=subprocess.DEVNULL,
        )
        shutil.copytree(REPO / "examples" / "prices", tmp / "prices")
        policy = (REPO / "examples" / "acme.toml").read_text()
        policy += '\n[dashboard]\ntrusted_proxies = ["127.0.0.1"]\n'
        # The example's pilot begins after these days: here it runs from the
        # second, so its cohort is asked its question.
        assert 'start = "2026-11-16"' in policy
        policy = policy.replace('start = "2026-11-16"', 'start = "2026-11-02"', 1)
        self.policy = tmp / "acme.toml"
        self.policy.write_text(policy)
        self.db = f"sqlite://{data / 'demo-ledger.db'}"
        self.keys = {role: self.key(user) for role, user in PEOPLE.items()}
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", str(self.policy), "--database", self.db, "--listen", "127.0.0.1:0",
             "--manual-clock", CLOCK],
            stdout=subprocess.PIPE, env=ENV, text=True,
        )
        m = re.search(r"listening on http://(\S+)", self.proc.stdout.readline())
        assert m, "serve did not say where it listens"
        self.url = f"http://{m.group(1)}"

    def key(self, user):
        cmd = [BIN, "keys", "create", "--config", str(self.policy), "--database", self.db, "--user", user]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout.strip()

    def api(self, role, method, path, body=None):
        """The JSON API as `role`: (status, parsed body)."""
        req = urllib.request.Request(
            f"{self.url}/api/v1{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.keys[role]}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def dash(tmp_path_factory):
    d = Dash(tmp_path_factory.mktemp("dashboard"))
    yield d
    d.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page, laptop-sized."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def login(page, dash, role):
    """Logs in at /login with `role`'s API key; returns where it landed."""
    page.goto(f"{dash.url}/login")
    page.get_by_label("API key").fill(dash.keys[role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return page.url


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
