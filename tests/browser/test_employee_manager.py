"""An employee's month and a manager's team page, as each role sees them
in Chromium: the member sees their own month and nothing of the team's (a
403 page), answers the scorecard's question; the manager validates an
outcome and approves an exception in place; the sign-on proxy's header
logs a person in."""

import re

from conftest import login, shot


def test_the_login_form_says_why_a_key_is_refused(page, dash):
    page.goto(f"{dash.url}/me")
    assert "/login" in page.url, "a page needs a session first"
    page.get_by_label("API key").fill("tw_not-a-key")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("That key is not one tokenwise knows")
    shot(page, "login-refused")


def test_a_member_sees_their_month_and_not_the_team_page(page, dash):
    assert login(page, dash, "member").endswith("/me"), "a member lands on their month"
    # The keyboard's first stop skips to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    main = page.locator("main")
    assert page.get_by_role("heading", name="My month").is_visible()
    assert "Ivan Petrov" in page.locator("header").inner_text()
    # Spend and the cost of each task in plain words, beside the usual.
    assert re.search(r"\$\d", page.locator("section", has=page.get_by_role("heading", name="Spent")).inner_text())
    tasks = page.locator("article.task")
    assert tasks.count() > 0, "the simulated days gave Ivan tasks"
    assert re.match(r"This [\w-]+ task cost \$[\d.,]+ over \d+ calls?", tasks.first.locator(".plain").inner_text())
    assert "the usual for" in main.inner_text(), "tasks are compared with their usual cost"
    # The scorecard names its rules; the chart has its numbers as text.
    assert re.search(r"rules \S+", page.locator("#card-h + *").locator("..").inner_text())
    assert page.locator("svg[role=img]").count() >= 1
    # Only the pages of the role in the navigation; the team's page is 403.
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="My month").is_visible()
    assert nav.get_by_role("link", name="My team").count() == 0
    shot(page, "employee-month")
    r = page.goto(f"{dash.url}/team")
    assert r.status == 403
    assert page.get_by_role("heading", name="Not for your role").is_visible()
    shot(page, "member-team-403")


def test_a_cohort_member_answers_the_pilots_question(page, dash):
    login(page, dash, "cohort")
    page.get_by_label("Tell us why").fill("The quality axis moved but I do not see why.")
    page.get_by_role("button", name="Confusing").click()
    assert "Thank you" in page.get_by_role("status").inner_text()
    shot(page, "employee-feedback-kept")
    status, kept = dash.api("governance", "GET", "/feedback?pilot=efficiency-first")
    assert status == 200
    mine = [f for f in kept["feedback"] if f["user"] == "diego.santos"]
    assert mine and mine[-1]["answer"] == "confusing" and mine[-1]["about"] == "score"
    assert mine[-1]["comment"] == "The quality axis moved but I do not see why."
    assert mine[-1]["model"] == "efficiency" and mine[-1]["rules_version"]
    # A second answer about the same subject in the same week is refused.
    page.get_by_role("button", name="Motivating").click()
    assert "already" in page.content()


def test_someone_outside_the_cohort_is_not_asked(page, dash):
    login(page, dash, "member")
    assert page.get_by_role("button", name="Confusing").count() == 0


def test_a_manager_validates_an_outcome_and_approves_an_exception(page, dash):
    status, outcome = dash.api("member", "POST", "/outcomes", {
        "task": "T-browser-1", "use_case": "support-reply", "kind": "ticket_resolved", "value_hours": 0.5,
        "evidence": "HD-4711"})
    assert status == 200, outcome
    status, ask = dash.api("member", "POST", "/exceptions", {
        "scope": "user:ivan.petrov", "reason_code": "customer-escalation", "cap_usd": "5",
        "justification": "Escalated enterprise ticket needs several drafts today", "duration_hours": 4})
    assert status == 200, ask

    assert login(page, dash, "manager").endswith("/team"), "a manager lands on their team"
    assert page.get_by_role("heading", name="Team support").is_visible()
    assert page.get_by_role("heading", name="Budget burn-down").is_visible()
    assert page.locator("svg[role=img]").count() >= 1
    shot(page, "manager-team")

    row = page.locator("article.task", has_text="T-browser-1")
    row.get_by_label(re.compile("Quality of ivan.petrov")).select_option("4")
    row.get_by_role("button", name=re.compile("^Validate")).click()
    assert "outcome validated" in page.get_by_role("status").inner_text()
    assert page.locator("article.task", has_text="T-browser-1").count() == 0, "decided: no longer waiting"
    status, seen = dash.api("manager", "GET", f"/outcomes/{outcome['id']}")
    assert (seen["status"], seen["decided_by"], seen["decided_quality"]) == ("validated", "lucia.fernandez", 4)

    request = page.locator("article.task", has_text="Escalated enterprise ticket needs several drafts today")
    request.get_by_role("button", name=re.compile("^Approve")).click()
    assert "exception approved" in page.get_by_role("status").inner_text()
    status, seen = dash.api("manager", "GET", f"/exceptions/{ask['id']}")
    assert (seen["status"], seen["decided_by"]) == ("approved", "lucia.fernandez")
    shot(page, "manager-team-decided")


def test_the_sign_on_proxys_header_logs_a_person_in(browser, dash):
    # The test's browser connects from 127.0.0.1, a trusted proxy here.
    ctx = browser.new_context(viewport={"width": 390, "height": 844},
                              extra_http_headers={"X-Forwarded-Email": "amara.okafor@acme.example"})
    page = ctx.new_page()
    page.goto(f"{dash.url}/")
    assert page.url.endswith("/team")
    assert "Amara Okafor" in page.locator("header").inner_text()
    # Forms work under single sign-on too: the session carries their token.
    page.get_by_role("link", name="My month").click()
    page.get_by_role("button", name="Motivating").click()
    assert "Thank you" in page.get_by_role("status").inner_text()
    shot(page, "sso-phone-month")
    ctx.close()
