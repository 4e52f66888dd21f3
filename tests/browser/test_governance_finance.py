"""Governance's and finance's views in Chromium, over the simulated days:
governance sees every flag and opens an incident from one in place,
decides an appeal, reads violations, the reward models, the audit log
(verified) and the policy; finance sees the chargeback as a table and a
chart, spend per outcome over time, downloads the CSV and the FOCUS
dataset and reconciles it with the ledger; a member gets a 403 page on
both; a manager's finance page holds their team only."""

import re

from conftest import login, shot


def test_governance_opens_an_incident_from_a_flag(page, dash):
    assert login(page, dash, "governance").endswith("/governance"), "governance lands on its desk"
    assert page.get_by_role("heading", name="Governance", exact=True).is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Governance").is_visible()
    assert nav.get_by_role("link", name="Finance").is_visible()
    status, listed = dash.api("governance", "GET", "/anomalies?period=2026-11")
    assert status == 200 and listed["anomalies"], "the simulated days raised flags"
    flags = page.locator("#anomalies article.task")
    assert flags.count() == len(listed["anomalies"]), "every flag of the period, as the API lists them"
    shot(page, "governance-desk")

    flag = flags.filter(has=page.get_by_text("Open an incident from this flag")).first
    anomaly = flag.get_attribute("id")
    flag.get_by_text("Open an incident from this flag").click()
    flag.get_by_label("Title").fill("Repeated prompts around the support queue")
    flag.get_by_label("Root cause").select_option("poor_experience")
    flag.get_by_label("What happened (optional)").fill("People worked around the slow approved template.")
    flag.get_by_role("button", name="Open incident").click()
    assert "incident opened" in page.get_by_role("status").inner_text()
    linked = page.locator(f"article#{anomaly}")
    assert "Incident opened:" in linked.inner_text(), "the flag now links its incident"
    assert linked.get_by_text("Open an incident from this flag").count() == 0
    incident = page.locator("#incidents article.task", has_text="Repeated prompts around the support queue")
    assert incident.count() == 1
    assert "poor experience" in incident.inner_text()
    status, seen = dash.api("governance", "GET", "/incidents")
    mine = [i for i in seen["incidents"] if i["title"] == "Repeated prompts around the support queue"]
    assert mine and mine[0]["anomalies"] == [anomaly] and mine[0]["created_by"] == "omar.haddad"
    shot(page, "governance-incident-opened")


def test_governance_decides_an_appeal_in_place(page, dash):
    status, listed = dash.api("member", "GET", "/anomalies?period=2026-11")
    assert status == 200
    mine = [a for a in listed["anomalies"] if a["appeal"] is None]
    if not mine:
        # Ivan has no flag of his own: appeal a rejected outcome instead.
        status, o = dash.api("member", "POST", "/outcomes", {
            "task": "T-browser-appeal", "use_case": "support-reply", "kind": "ticket_resolved",
            "value_hours": 0.5, "evidence": "HD-9001"})
        assert status == 200, o
        status, _ = dash.api("manager", "POST", f"/outcomes/{o['id']}/validate", {"decision": "rejected"})
        assert status == 200
        subject = f"outcome:{o['id']}"
    else:
        subject = mine[0]["appeal_as"]
    status, appeal = dash.api("member", "POST", "/appeals", {"subject": subject, "comment": "This was real work."})
    assert status == 200, appeal

    login(page, dash, "governance")
    card = page.locator("#appeals article.task", has_text="This was real work.")
    card.get_by_label(re.compile("^Why")).fill("The evidence shows the ticket was resolved.")
    card.get_by_role("button", name=re.compile("^Uphold")).click()
    assert "appeal upheld" in page.get_by_role("status").inner_text()
    status, seen = dash.api("governance", "GET", "/appeals")
    decided = [a for a in seen["appeals"] if a["id"] == appeal["id"]][0]
    assert (decided["status"], decided["decided_by"]) == ("upheld", "omar.haddad")


def test_governance_reads_violations_models_audit_and_policy(page, dash):
    login(page, dash, "governance")
    page.get_by_role("link", name="Violations").click()
    assert page.get_by_role("heading", name="By kind of finding").is_visible()
    kinds = page.locator("section", has=page.get_by_role("heading", name="By kind of finding")).locator("tbody tr")
    assert kinds.count() > 0, "the simulated people sent prompts with sensitive data"
    total = int(page.locator("section", has_text="Calls with sensitive data, or refused").locator(".value").inner_text())
    assert total > 0
    shot(page, "governance-violations")

    page.get_by_role("link", name="Reward models").click()
    header = page.locator("section", has=page.get_by_role("heading", name=re.compile("rank under each model")))
    assert header.locator("thead th").count() == 7, "a person column and the six models"
    assert header.locator("tbody tr").count() > 0
    shot(page, "governance-models")

    page.get_by_role("link", name="Audit log").click()
    assert page.get_by_role("status").inner_text().startswith("Verified: all")
    assert page.locator("table.audit tbody tr").count() > 0
    page.get_by_label("Action").select_option("incident.open")
    page.get_by_role("button", name="Show").click()
    actions = page.locator("table.audit tbody tr td:nth-child(4)").all_inner_texts()
    assert actions and all(a.strip() == "incident.open" for a in actions)
    shot(page, "governance-audit")

    page.get_by_role("link", name="Policy").click()
    assert re.fullmatch(r"[0-9a-f]{64}", page.locator("code.hash").inner_text())
    assert "[org]" in page.get_by_label("The policy file").inner_text()
    shot(page, "governance-policy")


def test_finance_sees_the_chargeback_and_downloads_it(page, dash):
    assert login(page, dash, "finance").endswith("/finance"), "finance lands on its page"
    assert page.get_by_role("heading", name="Finance", exact=True).is_visible()
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Governance").count() == 0
    charts = page.locator("svg[role=img]")
    assert charts.count() == 2, "chargeback by team and spend per outcome"
    assert charts.nth(0).get_attribute("aria-label").startswith("Chargeback by team")
    status, cb = dash.api("finance", "GET", "/reports/chargeback?period=2026-11")
    assert status == 200
    rows = page.locator("section", has=page.get_by_role("heading", name="Chargeback", exact=True)).locator("tbody tr")
    assert rows.count() == len(cb["rows"]) > 0, "every row of the API's chargeback"
    total = float(cb["totals"]["cost_usd"])
    shown = page.locator("section", has=page.get_by_role("heading", name="Spend", exact=True)).locator(".value")
    assert shown.inner_text() == f"${total:,.2f}", "the API's total, in dollars and cents"
    shot(page, "finance")

    with page.expect_download() as d:
        page.get_by_role("link", name="Chargeback (CSV)").click()
    csv = open(d.value.path()).read()
    assert d.value.suggested_filename == "tokenwise-chargeback-2026-11.csv"
    assert csv.splitlines()[0].startswith("period,"), csv[:200]
    assert len(csv.splitlines()) == len(cb["rows"]) + 1

    with page.expect_download() as d:
        page.get_by_role("link", name="FOCUS dataset (CSV)").click()
    focus = open(d.value.path()).read()
    assert d.value.suggested_filename == "tokenwise-focus-2026-11.csv"

    # The ledger's own FOCUS dataset reconciles with the ledger.
    page.get_by_label("Export format").select_option("focus")
    page.get_by_label("The export", exact=True).fill(focus)
    page.get_by_role("button", name="Reconcile").click()
    shot(page, "finance-reconciled")
    assert page.get_by_role("heading", name="Reconciliation").is_visible()
    assert page.get_by_role("status").inner_text().startswith("Reconciled")


def test_a_member_gets_403_on_governance_and_finance(page, dash):
    login(page, dash, "member")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Governance").count() == 0
    assert nav.get_by_role("link", name="Finance").count() == 0
    for path in ["/governance", "/governance/violations", "/governance/audit", "/governance/policy",
                 "/governance/models", "/finance", "/finance/chargeback.csv"]:
        r = page.goto(f"{dash.url}{path}")
        assert r.status == 403, path
        assert page.get_by_role("heading", name="Not for your role").is_visible(), path
    shot(page, "member-finance-403")


def test_a_manager_sees_their_team_on_the_finance_page(page, dash):
    login(page, dash, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    teams = page.locator("section", has=page.get_by_role("heading", name="Chargeback", exact=True)).locator(
        "tbody th").all_inner_texts()
    assert teams and set(teams) == {"Customer Support"}, teams
    assert page.get_by_role("heading", name="Reconcile with the provider's bill").count() == 0
    assert page.goto(f"{dash.url}/governance").status == 403
