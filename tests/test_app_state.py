"""What the pages compute from a report: labels, filters, aggregates, literal Markdown."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import BASIC, zip_folder

from diagnostics import app_state
from diagnostics.app_state import NO_QUEUE, UNEXPLAINED, EmailFilter
from diagnostics.cause_view import item_parts
from diagnostics.causes import CAUSES
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_uploaded


@pytest.fixture(scope="module")
def basic():
    return diagnose(load_uploaded([("basic.zip", zip_folder(BASIC))]))


@pytest.fixture(scope="module")
def demo():
    return diagnose(load_uploaded(list(demo_files().items())))


def subjects(frame) -> set[str]:
    return set(frame["subject"])


def test_cause_label_is_title_with_contract_id():
    for cause in CAUSES:
        assert app_state.cause_label(cause.id) == f"{cause.title} ({cause.id})"
    assert app_state.cause_label(None).endswith(f"({UNEXPLAINED})")


def test_kpis(basic):
    numbers = app_state.kpis(basic)
    assert (numbers.incoming, numbers.converted, numbers.not_converted) == (4, 2, 2)
    # the reply regards a case whose state the sample lacks: threaded, converted (third round, item 1)
    assert numbers.by_design == 0 and numbers.needs_action == 2
    assert numbers.rate == pytest.approx(0.5)
    assert numbers.to_fix == len(basic.fix_plan()) > 0
    assert all(entry["cause"] != "reply-to-tracked-email" for entry in basic.fix_plan())


def test_filters(basic):
    everything = app_state.filter_emails(basic, EmailFilter())
    assert len(everything) == 4
    assert subjects(app_state.filter_emails(basic, EmailFilter(verdicts=("converted",)))) == {
        "Help needed (first)", "Help needed (reply)"}
    assert subjects(app_state.filter_emails(basic, EmailFilter(causes=("no-active-rule-for-queue",)))) == {
        "Help needed (sales)"}
    assert subjects(app_state.filter_emails(basic, EmailFilter(text="STRANGER"))) == {"Help needed (stranger)"}
    assert subjects(app_state.filter_emails(basic, EmailFilter(text="contoso.net"))) == {"Help needed (stranger)"}
    sales = basic.queues.loc[basic.queues["name"] == "Sales", "queueid"].iloc[0]
    assert subjects(app_state.filter_emails(basic, EmailFilter(queues=(sales,)))) == {"Help needed (sales)"}
    assert app_state.filter_emails(basic, EmailFilter(start=date(2030, 1, 1))).empty
    assert len(app_state.filter_emails(basic, EmailFilter(end=date(2026, 11, 3)))) == 3
    # regex characters are searched literally
    assert app_state.filter_emails(basic, EmailFilter(text="(.*")).empty


def test_any_cause_filter_also_finds_causes_behind_the_primary(basic):
    import copy

    import pandas as pd

    report = copy.deepcopy(basic)
    stranger = report.emails.loc[report.emails["subject"] == "Help needed (stranger)", "activityid"].iloc[0]
    report.causes = pd.concat([report.causes, pd.DataFrame([{
        "activityid": stranger, "cause": "customer-email-conflict", "queue": None, "evidence": ["two contacts"],
        "remediation": "fix"}])], ignore_index=True)
    selection = EmailFilter(causes=("customer-email-conflict",))
    assert app_state.filter_emails(report, selection).empty
    found = app_state.filter_emails(report, EmailFilter(causes=selection.causes, any_cause=True))
    assert subjects(found) == {"Help needed (stranger)"}


def test_no_queue_and_unexplained_pseudo_values(demo):
    no_queue = app_state.filter_emails(demo, EmailFilter(queues=(NO_QUEUE,)))
    assert not no_queue.empty
    assert all(not isinstance(queues, list) or not queues for queues in no_queue["queues"])


def test_filter_from_link_parameters_drops_unknown_values(basic):
    sales = basic.queues.loc[basic.queues["name"] == "Sales", "queueid"].iloc[0]
    selection = app_state.filter_from_params({"cause": ["queue-only-in-bcc,nonsense"], "queue": [sales, "evil"],
                                              "verdict": ["not-converted", "x"], "day": ["2026-11-03"],
                                              "q": ["help"], "any": ["1"]}, basic)
    assert selection == EmailFilter(verdicts=("not-converted",), causes=("queue-only-in-bcc",), queues=(sales,),
                                    start=date(2026, 11, 3), end=date(2026, 11, 3), text="help", any_cause=True)
    assert app_state.filter_from_params({"day": ["garbage"]}, basic).start is None


def test_funnel_loses_each_primary_cause_at_its_stage(demo):
    stages = app_state.funnel(demo)
    summary = demo.summary()
    assert list(stages["cause"][:len(CAUSES)]) == [cause.id for cause in CAUSES]
    # working as designed is left out from the start: the funnel counts the emails meant to become cases
    assert stages["dropped"][:len(CAUSES)].sum() == summary["needs_action"] - summary["unexplained"]
    assert stages["remaining"].iloc[0] + stages["dropped"].iloc[0] == summary["incoming"] - summary["by_design"]
    assert stages["remaining"].iloc[-1] == summary["converted"]


def test_daily_counts_add_up(demo):
    long, totals = app_state.daily_counts(demo)
    assert long["count"].sum() == demo.summary()["needs_action"]  # working as designed left out
    assert totals["incoming"].sum() == demo.summary()["incoming"]


def test_queue_health_flags_the_broken_queues(demo):
    health = app_state.queue_health(demo).set_index("queue")

    def row(name):
        return health.loc[next(label for label in health.index if label.startswith(name))]

    assert row("Wholesale")["health"] == "error"  # its mailbox cannot sync
    assert row("Sales")["health"] == "error" and row("Sales")["active_rules"] == ""  # no active rule, 0% converted
    assert row("Returns")["health"] == "error"  # its rule's flow is in Draft (a rule finding, by the rule's name)
    billing = row("Billing")
    assert 0.5 <= billing["rate"] < 0.8 and billing["health"] == "warning"  # loses more than 20%: never OK
    assert row("Marketing")["health"] == "error"  # it drops mail from unknown senders (queue filtering)
    helpdesk = row("Helpdesk")  # healthy in its set-up; what fails there fails for the senders' reasons
    assert helpdesk["rate"] >= 0.8 and helpdesk["health"] == "ok" and helpdesk["findings"] == ""
    assert (health["converted"] <= health["emails"]).all()
    assert not health["findings"].str.contains("incoming status Failure").any()  # plain words
    assert health["findings"].str.contains("cannot receive email").any()


def test_health_never_ok_with_an_error_or_a_low_rate():
    assert app_state._health([{"severity": "error"}], 1.0, True) == "error"
    assert app_state._health([], 0.79, True) == "warning"
    assert app_state._health([], 0.49, True) == "error"
    assert app_state._health([], 0.9, False) == "warning"
    assert app_state._health([], 0.9, True) == "ok"


def test_evidence_in_plain_words_with_the_raw_field_after(demo):
    items = {(cause["id"], item["code"]): item for email in demo.to_dict()["emails"] for cause in email["causes"]
             for item in cause["evidence"]}
    refused = items[("unknown-sender-not-allowed", "unknown-sender-refused")]
    words, raw = item_parts(refused, "unknown-sender-not-allowed")
    assert "allowunknownsender" not in words and "unknown senders" in words and raw == "allowunknownsender = false"
    setting = next(f for f in demo.findings if f["scope"] == "environment")["evidence"][0]
    words, raw = item_parts(setting, "contact-creation-failed")
    assert "msdyn_" not in words and raw == f"msdyn_ArcCreateContactWithRuleOwner = {setting['values']['value']}"
    assert app_state.evidence_md(refused, "unknown-sender-not-allowed").endswith("`allowunknownsender = false`")
    assert item_parts("a sentence of an old report", "x") == ("a sentence of an old report", None)


def test_plan_entries_name_the_records(demo):
    entries = app_state.plan_entries(demo)
    titles = [entry.title for entry in entries]
    # the failing mailbox stops every email of its queue: first, though no email of it could be counted
    assert titles[:3] == ["Mailbox 'wholesale@contoso-coffee.com'", "Rule 'Billing email to case'", "Queue 'Sales'"]
    assert "Rule owner 'Marco Rossi'" in titles and "Mailbox 'wholesale@contoso-coffee.com'" in titles
    assert all("-" not in entry.title.split("'")[0] for entry in entries)  # never an id as the name
    assert [entry.number for entry in entries] == list(range(1, len(entries) + 1))


def test_unchecked_is_one_line_per_missing_table():
    report = diagnose(load_uploaded([("basic.zip", zip_folder(BASIC))]))
    missing = set(report.unchecked.explode("missing")["missing"])
    lines = app_state.unchecked_lines(report)
    assert len(lines) == len(missing) > 0
    assert all(line.count("The snapshot has no") == 1 for line in lines)


def test_page_of_clamps():
    import pandas as pd

    frame = pd.DataFrame({"n": range(250)})
    rows, pages = app_state.page_of(frame, 3, 100)
    assert pages == 3 and list(rows["n"]) == list(range(200, 250))
    rows, _ = app_state.page_of(frame, 99, 100)
    assert rows["n"].iloc[0] == 200
    assert app_state.page_of(frame.iloc[:0], 1)[1] == 1


@pytest.mark.parametrize(("text", "literal"), [
    ("[click](javascript:alert(1))", r"\[click\]\(javascript\:alert\(1\)\)"),
    ("<img src=x onerror=alert(1)>", r"\<img src\=x onerror\=alert\(1\)\>"),
    ("**bold** _it_ $x$ :red[r] # h", r"\*\*bold\*\* \_it\_ \$x\$ \:red\[r\] \# h"),
    ("mail bob@evil.example now", "mail `bob@evil.example` now"),
    ("see https://evil.example/x and www.evil.example", "see `https://evil.example/x` and `www.evil.example`"),
    ("a`b@c.d`", r"a\``b@c.d`\`"),
    ("In-Reply-To <first@mail.example> is", "In\\-Reply\\-To `<first@mail.example>` is"),
    ("line1\nline2", "line1  \nline2"),
])
def test_md_literal(text, literal):
    assert app_state.md_literal(text) == literal


def test_md_code_fences_backticks():
    assert app_state.md_code("a`b") == "``a`b``"
    assert app_state.md_code("`x`") == "`` `x` ``"


def test_second_round_verdicts_and_kinds_are_out_of_scope_for_problems():
    from diagnostics import exports

    report = diagnose(load_uploaded([("basic.zip", zip_folder(BASIC))]))
    sales = report.emails["subject"] == "Help needed (sales)"
    report.emails.loc[sales, "verdict"] = "not-for-a-queue"  # as the engine's correction 1 gives them
    report.causes["kind"] = report.causes["cause"].map(
        lambda cause: "by-design" if cause == "reply-to-tracked-email" else "fault")
    report.plan = None
    numbers = app_state.kpis(report)
    assert numbers.incoming == report.summary()["incoming"]
    assert all(entry.cause != "no-active-rule-for-queue" or entry.blocked == 0 for entry in
               app_state.plan_entries(report))  # that email is out of scope: it blocks nothing
    long, totals = app_state.daily_counts(report)
    assert totals["incoming"].sum() == 3
    assert "not-for-a-queue" in set(app_state.email_rows(report, report.emails)["Verdict"].map(
        {value: key for key, value in app_state.VERDICT_SHORT.items()}))
    assert exports.report_html(report) and exports.emails_csv(report)
