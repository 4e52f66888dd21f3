#!/usr/bin/env python3
"""Schemathesis against the served OpenAPI document: starts mock-upstream and
`tokenwise serve` on a copy of examples/acme.toml (as the SDK suite does),
makes an admin key, and runs `st run` on /api/openapi.json with that key, so
the authenticated routes are exercised, for a bounded number of examples per
operation. Passes when no answer is a 5xx and every answer matches the
document (status code, content type, schema). Prints the counts.

Usage: scripts/schemathesis.py [MAX_EXAMPLES] (default 20); run with the
virtualenv scripts/test makes (.venv, tests/sdk/requirements.txt)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sdk"))
from conftest import Gateway  # noqa: E402  (starts the real binary)

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "20"
    with tempfile.TemporaryDirectory() as tmp:
        g = Gateway(Path(tmp))
        try:
            key = g.key("hugo.martin")  # an admin: every route is open to it
            report = Path(tmp) / "report.json"
            st = Path(sys.executable).parent / "st"
            cmd = [
                str(st), "run", f"{g.url}/api/openapi.json",
                "--header", f"Authorization: Bearer {key}",
                "--checks", CHECKS,
                "--max-examples", examples,
                "--phases", "examples,coverage,fuzzing",
                "--seed", "1",
                "--workers", "2",
                "--request-timeout", "30",
                "--no-color",
                "--generation-database", "none",
                "--report", "json", "--report-json-path", str(report),
            ]
            env = {
                **os.environ,
                "SCHEMATHESIS_TELEMETRY": "false",
                "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
                "PYTHONPATH": str(REPO / "tests" / "sdk"),
            }
            run = subprocess.run(cmd, env=env)
            print(summary(report))
            return run.returncode
        finally:
            g.stop()


def summary(report: Path) -> str:
    """The run's counts from its JSON report, when it wrote one."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return "schemathesis: no report"
    cases, ops = data.get("test_cases", {}), data.get("operations", {})
    return (
        f"schemathesis: {ops.get('tested')} of {ops.get('total')} operations, "
        f"{cases.get('generated')} requests generated, {cases.get('unique_failures')} failures, "
        f"{len(data.get('errors', []))} errors, {data.get('running_time', 0):.0f} s"
    )

if __name__ == "__main__":
    sys.exit(main())
