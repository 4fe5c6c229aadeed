"""The watch: rounds against the Dataverse stand-in, alerts to a local JSON webhook through Apprise.

The stand-in serves the demo snapshot (emails of the 30 days to 2026-11-20); rounds pull ``--days 3650``
so the window holds them whatever today is. The webhook is a local HTTP receiver on 127.0.0.1 that Apprise
posts to (``json://``), so what is asserted is what a Teams or Slack channel would have received.
"""

from __future__ import annotations

import json
import tempfile
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dataverse_standin import TOKEN, Fault, StandIn
from sqlalchemy.engine import Connection

from diagnostics import cli, watch
from diagnostics.dataverse import org_root
from diagnostics.demo import demo_files
from diagnostics.store import RunStore

EMAILS = 120
HELPDESK_RULE = "Helpdesk email to case"
DAYS = "3650"


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it; ``status`` is what it answers."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name for it
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/hook"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return demo_files(EMAILS)


@pytest.fixture
def server(files):
    with StandIn(files) as stand_in:
        yield stand_in


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture
def env(store_path, receiver, monkeypatch):
    monkeypatch.setenv("DATAVERSE_TOKEN", TOKEN)
    monkeypatch.setenv("DIAGNOSTICS_NOTIFY", receiver.url)
    monkeypatch.delenv("DIAGNOSTICS_APP_URL", raising=False)
    return store_path


class Clock:
    """The store's clock, moved on by hand: rounds 30 minutes apart (ending now, so nothing has expired)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def three_watch_rounds(files: dict[str, bytes], store_path: Path) -> str:
    """Three kept watch runs of one stand-in organisation, 30 minutes apart, the second after the Helpdesk rule
    was deactivated (one alert); returns the organisation."""
    clock = Clock(datetime.now(UTC) - timedelta(minutes=90))
    store = RunStore(store_path, clock=clock)
    with StandIn(files) as server:
        settings = watch.settings_from(server.url, days=3650, notify=None, drop=10, share_days=None,
                                       mask_share=False, keep_days=14, environ={})
        for number in range(3):
            if number == 1:
                _deactivate(server, HELPDESK_RULE)
            outcome = watch.run_round(settings, store=store, environ={"DATAVERSE_TOKEN": TOKEN}, now=clock.now)
            assert outcome.exit_code == 0, outcome.line
            clock.now += timedelta(minutes=30)
        return server.url


def _round(server: StandIn, *args: str, token: str | None = None, monkeypatch=None) -> int:
    if token is not None:
        monkeypatch.setenv("DATAVERSE_TOKEN", token)
    return cli.main(["watch", server.url, "--days", DAYS, *args])


def _deactivate(server: StandIn, rule: str) -> None:
    changed = server.change("convertrules", lambda row: row.get("name") == rule, statecode=0, statuscode=1)
    assert changed == 1


def test_a_deactivated_rule_is_alerted_once_a_failure_once_then_recovered(server, receiver, env, monkeypatch,
                                                                          capsys):
    store = RunStore(env)
    organisation = server.url

    assert _round(server) == 0  # round 1: where the watch starts from
    assert receiver.posts == [] and len(store.watch_runs(organisation)) == 1
    assert "nothing got worse, no alert" in capsys.readouterr().out

    _deactivate(server, HELPDESK_RULE)
    assert _round(server) == 0  # round 2: the rule is in Draft
    assert len(receiver.posts) == 1
    alert = receiver.posts[0]
    assert alert["type"] == "warning" and alert["title"] == "Email-to-case got worse at " + organisation[7:]
    assert HELPDESK_RULE in alert["message"] and "New: queue 'Helpdesk'" in alert["message"]
    assert "Fix: " in alert["message"] and "Docs: https://learn.microsoft.com/" in alert["message"]
    assert alert["message"].count("- New: ") == 1  # the queue without an active rule; the rule's failures stay on it

    assert _round(server) == 0  # round 3: nothing changed
    assert len(receiver.posts) == 1

    assert _round(server, token="expired-token", monkeypatch=monkeypatch) == 1  # round 4: sign-in refused
    assert len(receiver.posts) == 2
    failure = receiver.posts[1]
    assert failure["type"] == "failure" and failure["title"].startswith("Email-to-case watch failed for ")
    assert "Dataverse refused access (401" in failure["message"]
    assert "Dataverse refused access (401" in capsys.readouterr().err

    assert _round(server) == 1  # round 5: the same failure is not alerted again
    assert len(receiver.posts) == 2

    assert _round(server, token=TOKEN, monkeypatch=monkeypatch) == 0  # round 6: works again
    assert len(receiver.posts) == 3
    recovered = receiver.posts[2]
    assert recovered["type"] == "success" and "recovered" in recovered["title"]
    assert "Recovered: the watch works again" in recovered["message"] and "401" in recovered["message"]

    assert _round(server) == 0 and len(receiver.posts) == 3  # round 7: quiet again
    runs = store.watch_runs(organisation)
    assert len(runs) == 5  # the two failed rounds kept no run
    alerts = store.watch_alerts(organisation)
    assert [item.kind for item in alerts] == ["recovered", "failure", "worse"]
    assert all(item.delivered for item in alerts)


def test_better_alone_sends_nothing_and_the_next_alert_says_it(server, receiver, env):
    assert _round(server) == 0
    assert server.change("systemusers", lambda row: row.get("fullname") == "Marco Rossi", isdisabled=False) == 1
    assert _round(server) == 0 and receiver.posts == []  # the rule owner was enabled: better only, no alert
    _deactivate(server, "Billing email to case")
    assert _round(server) == 0
    message = receiver.posts[0]["message"]
    assert "Got better:\n- Gone from the fix plan: rule owner 'Marco Rossi'" in message
    assert "New: queue 'Billing'" in message and "Billing email to case" in message


def test_an_alert_that_cannot_be_sent_is_sent_next_round(server, receiver, env):
    assert _round(server) == 0
    _deactivate(server, HELPDESK_RULE)
    receiver.status = 500
    assert _round(server) == 1  # the webhook refused: the round says so
    receiver.status = 200
    assert _round(server) == 0
    assert len(receiver.posts) == 2 and HELPDESK_RULE in receiver.posts[1]["message"]
    assert _round(server) == 0 and len(receiver.posts) == 2
    delivered = [item.delivered for item in RunStore(env).watch_alerts(server.url)]
    assert delivered == [True, False]


def test_a_drop_in_the_share_converted_is_alerted_once(server, receiver, env):
    assert _round(server) == 0
    # emails that became cases lose their case: the share falls, no new fix-plan entry needed for that
    incidents = {row["_regardingobjectid_value"] for row in server.tables["emails"]
                 if row.get("_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname") == "incident"}
    moved = server.change("emails", lambda row: row.get("_regardingobjectid_value") in set(list(incidents)[:25]),
                          _regardingobjectid_value=None)
    assert moved >= 20
    assert _round(server, "--drop", "10") == 0
    drops = [post for post in receiver.posts if "Emails that became cases fell to" in post["message"]]
    assert len(drops) == 1, [post["message"] for post in receiver.posts]
    assert _round(server, "--drop", "10") == 0 and len(receiver.posts) == 1


def test_the_share_leaves_out_replies_and_emails_not_converted_by_design():
    share, expected = watch.converted_share({"incoming": 108, "converted": 61, "threaded": 4, "by_design": 7})
    assert expected == 97 and share == pytest.approx(57 / 97)
    assert watch.converted_share({"incoming": 3, "converted": 0, "threaded": 0, "by_design": 3}) == (None, 0)


def test_a_report_link_is_made_when_asked(server, receiver, env, monkeypatch):
    monkeypatch.setenv("DIAGNOSTICS_APP_URL", "https://diagnostics.contoso.com/")
    assert _round(server, "--share-days", "3") == 0
    _deactivate(server, HELPDESK_RULE)
    assert _round(server, "--share-days", "3", "--mask-share") == 0
    link = next(line for line in receiver.posts[0]["message"].splitlines() if line.startswith("Report: "))
    token = link.split("?run=")[1]
    assert link.startswith("Report: https://diagnostics.contoso.com/?run=")
    shared = RunStore(env).load(token)
    assert shared.masked and shared.report["source"].startswith("watch of 127.0.0.1")


def test_without_unattended_credentials_the_round_names_the_variables(server, receiver, env, monkeypatch, capsys):
    for name in ("DATAVERSE_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                 "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert _round(server) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "set DATAVERSE_TOKEN, or AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET" \
        in error
    assert server.requests == [] and len(receiver.posts) == 1  # no device code prompt: a failure alert


def test_a_missing_table_is_a_failure_alert(server, receiver, env):
    server.faults.append(Fault("400", table="activitymonitors", times=99))
    assert _round(server) == 1
    assert "activitymonitors: Dataverse answered 400" in receiver.posts[0]["message"]
    assert RunStore(env).watch_runs(server.url) == []


@pytest.mark.parametrize(("args", "words"), [
    (["--notify", "nonsense://x"], "is not a notification URL Apprise knows"),
    (["--share-days", "3"], "DIAGNOSTICS_APP_URL"), (["--days", "0"], "--days must be at least 1"),
    (["--drop", "0"], "--drop is in percentage points")])
def test_a_wrong_command_is_one_line_and_exit_2(server, receiver, env, capsys, args, words):
    assert _round(server, *args) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and words in error and receiver.posts == [] and server.requests == []


def test_two_rounds_of_one_organisation_never_overlap(server, receiver, env, capsys):
    with watch.round_lock(env, org_root(server.url)) as holder:
        assert holder is None
        assert _round(server) == 0
        assert "skipped: a watch round of 127.0.0.1" in capsys.readouterr().out
        assert server.requests == []
    assert _round(server) == 0 and server.requests


def test_a_round_stuck_for_hours_is_alerted(server, receiver, env):
    store = RunStore(env)
    settings = watch.settings_from(server.url, days=3650, notify=[receiver.url], drop=10, share_days=None,
                                   mask_share=False, keep_days=14)
    with watch.round_lock(env, org_root(server.url)):
        later = datetime.now(UTC) + timedelta(hours=3)
        outcome = watch.run_round(settings, store=store, now=later)
    assert outcome.exit_code == 1 and "is still running" in receiver.posts[0]["message"]


def test_an_interrupted_round_keeps_nothing(server, receiver, env, monkeypatch):
    from diagnostics import store as store_module

    store = RunStore(env)
    assert _round(server) == 0
    state = store.watch_state(server.url)
    _deactivate(server, HELPDESK_RULE)
    pulls_before = set(Path(tempfile.gettempdir()).glob("watch-*"))
    with monkeypatch.context() as patch:
        execute = Connection.execute

        def interrupted(connection: Connection, statement: object, *args: object, **kwargs: object) -> object:
            """Interrupted (Ctrl+C, SIGTERM) once the run's row is in, before the commit."""
            if getattr(statement, "table", None) is store_module.WATCH_STATE and statement.is_insert:
                raise KeyboardInterrupt
            return execute(connection, statement, *args, **kwargs)

        patch.setattr(Connection, "execute", interrupted)
        with pytest.raises(KeyboardInterrupt):
            watch.run_round(watch.settings_from(server.url, days=3650, notify=None, drop=10, share_days=None,
                                                mask_share=False, keep_days=14), store=store,
                            notifier=watch.Notifier(()))  # (an alert sent before an interruption is sent again)
    assert len(store.watch_runs(server.url)) == 1 and store.watch_state(server.url) == state
    assert set(Path(tempfile.gettempdir()).glob("watch-*")) == pulls_before  # the pulled zip is gone too
    assert _round(server) == 0 and len(receiver.posts) == 1  # the lock was let go; the news is still news


def test_the_period_is_the_last_days_today_included(server, receiver, env):
    store = RunStore(env)
    settings = watch.settings_from(server.url, days=30, notify=None, drop=10, share_days=None, mask_share=False,
                                   keep_days=14)
    outcome = watch.run_round(settings, store=store, today=date(2026, 11, 20))
    assert outcome.exit_code == 0
    run = store.watch_runs(server.url)[0]
    assert (run.period_start, run.period_end) == ("2026-10-22", "2026-11-20")
    assert run.summary["incoming"] > 50
    emails = next(request for request in server.requests if request["table"] == "emails")
    assert "2026-10-22" in emails["query"]["$filter"]


def test_a_bug_in_a_round_is_a_failure_alert_not_silence(server, receiver, env, monkeypatch):
    import diagnostics.evaluate

    def broken(snapshot):
        raise KeyError("queueid")

    monkeypatch.setattr(diagnostics.evaluate, "diagnose", broken)
    assert _round(server) == 1
    assert "could not finish: unexpected KeyError at test_watch.py:" in receiver.posts[0]["message"]


def test_unattended_sign_in_is_a_token_or_client_credentials_never_a_person():
    from diagnostics.dataverse import PullError, sign_in_unattended

    secret = {"AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555", "AZURE_TENANT_ID": "contoso.com",
              "AZURE_CLIENT_SECRET": "s"}
    assert [way for way, _ in sign_in_unattended(secret).ways] == ["client credentials (AZURE_CLIENT_ID)"]
    assert [way for way, _ in sign_in_unattended({**secret, "DATAVERSE_TOKEN": "t"}).ways] == ["DATAVERSE_TOKEN"]
    with pytest.raises(PullError, match="cannot sign in: set DATAVERSE_TOKEN, or AZURE_CLIENT_ID"):
        sign_in_unattended({"AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "t"})  # no secret, no certificate


def test_notify_urls_from_the_environment_keep_commas_inside_a_url():
    assert watch.split_urls("json://a/x, jsons://b/y\nmailtos://u:p@smtp.c.com?to=a@c.com,b@c.com slack://T/B/C") == [
        "json://a/x", "jsons://b/y", "mailtos://u:p@smtp.c.com?to=a@c.com,b@c.com", "slack://T/B/C"]


def test_the_four_kinds_of_target_are_understood_and_never_shown_with_their_secrets():
    notifier = watch.Notifier((
        "https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01"
        "&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3tsig",
        "mailtos://watch:s3cr3tpw@smtp.contoso.com?to=oncall@contoso.com",
        "slack://T1JJ3T3L2/A1BRTD4JD/s3cr3tTIiajkdnlazkcOXrIdevi7FQ/#support",
        "jsons://hooks.contoso.com/email-to-case"))
    kinds = [target.split("://")[0] for target in notifier.targets]
    assert kinds == ["workflow", "mailtos", "slack", "jsons"]
    assert not any("s3cr3t" in target for target in notifier.targets)
