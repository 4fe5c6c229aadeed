"""The watch: one unattended round that learns email-to-case broke before the customers do.

A round (``python -m diagnostics watch ORG_URL``, started by cron, a systemd timer, Task Scheduler or a CI
schedule) pulls the last days from Dataverse, diagnoses them, keeps the run in the store (kind ``watch``)
and speaks up only when something got worse since what the admins were last told:

- a fix-plan entry that is new (matched with the known ones by what it is about, as ``compare`` does);
- the share of emails that became cases fell by ``drop`` points or more from its recent best;
- the round itself failed (sign-in, Dataverse refused, a table missing): one alert, not one per round,
  and the next good round says it recovered.

What the admins were told lives in the store, per organisation (``watch_state``), and changes only with a
delivered alert: an alert that could not be sent is sent again next round; one that was is never repeated.
A file lock stops two rounds of one organisation from overlapping; the run, the state and the alert are
kept in one transaction, so an interrupted round keeps nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import SnapshotError

NOTIFY_ENV = "DIAGNOSTICS_NOTIFY"
APP_URL_ENV = "DIAGNOSTICS_APP_URL"
DEFAULT_DAYS = 7
DEFAULT_DROP = 10.0
DEFAULT_KEEP_DAYS = 14
TOP_ENTRIES = 3  # new fix-plan entries spelled out in an alert; the report has the rest
EVIDENCE_CHARS = 300
# Below this many emails that should have become cases, one email moves the share by 5 points or more:
# the share is reported but a drop is not alerted.
MIN_EMAILS_FOR_SHARE = 20
STUCK_AFTER = timedelta(hours=2)  # a round still holding the lock after this is itself a failure
_VOLATILE = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|\d{4}-\d\d-\d\d[T ][\d:.]+Z?"
                       r"|\d+(?:\.\d+)? (?:s|tries|try|seconds)\b", re.IGNORECASE)


class WatchError(SnapshotError):
    """The command is wrong (a notification URL, a missing app address): exit 2, no round, no alert."""


@dataclass(frozen=True)
class Settings:
    org_url: str
    days: int = DEFAULT_DAYS
    notify: tuple[str, ...] = ()
    drop: float = DEFAULT_DROP
    share_days: int | None = None
    mask_share: bool = False
    keep_days: int = DEFAULT_KEEP_DAYS
    app_url: str | None = None


@dataclass(frozen=True)
class Alert:
    kind: str  # "worse", "failure" or "recovered"
    title: str
    body: str


@dataclass
class Outcome:
    """What a round did: its exit code, one line for the log, the alert it sent (if any)."""

    exit_code: int
    line: str
    alert: Alert | None = None
    delivered: bool = True
    run_id: str | None = None


@dataclass
class _Changes:
    new: list[dict] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    share: float | None = None
    previous_share: float | None = None
    drop_from: dict | None = None  # the baseline the share fell from, when it fell by ``drop`` points
    recovered: dict | None = None  # the failure the round recovered from


# --------------------------------------------------------------------------- settings

def settings_from(org_url: str, *, days: int, notify: list[str] | None, drop: float, share_days: int | None,
                  mask_share: bool, keep_days: int, environ: Mapping[str, str] = os.environ) -> Settings:
    """The round's settings, checked: a bad value is one ``WatchError`` line before anything is pulled."""
    if days < 1:
        raise WatchError("--days must be at least 1")
    if not 0 < drop <= 100:
        raise WatchError("--drop is in percentage points, between 0 and 100")
    if keep_days < 1:
        raise WatchError("--keep-days must be at least 1")
    app_url = (environ.get(APP_URL_ENV) or "").strip() or None
    if share_days is not None:
        if share_days < 1:
            raise WatchError("--share-days must be at least 1")
        if not app_url or urlsplit(app_url).scheme not in ("http", "https") or not urlsplit(app_url).netloc:
            raise WatchError(f"--share-days needs the app's address in {APP_URL_ENV}, e.g. "
                             "https://diagnostics.contoso.com/")
    urls = tuple(notify) if notify else tuple(split_urls(environ.get(NOTIFY_ENV, "")))
    return Settings(org_url, days, urls, drop, share_days, mask_share, keep_days, app_url)


def split_urls(text: str) -> list[str]:
    """``DIAGNOSTICS_NOTIFY``: URLs separated by spaces, new lines or commas (a comma inside a URL, as in
    ``mailtos://…?to=a@x.com,b@x.com``, stays: only one before another ``scheme://`` separates)."""
    return [part for part in re.split(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)|\s+", text.strip()) if part]


class Notifier:
    """The alert's targets through Apprise: Teams Workflows, email, Slack, a JSON webhook, one URL each."""

    TYPES = {"worse": "warning", "failure": "failure", "recovered": "success"}

    def __init__(self, urls: tuple[str, ...]) -> None:
        import apprise

        self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(app_id="Email-to-Case Diagnostics",
                                                                   app_desc="Email-to-case watch"))
        for url in urls:
            if not self._apprise.add(url):
                scheme = url.split("://", 1)[0] if "://" in url else url[:20]
                raise WatchError(f"--notify: '{scheme}://…' is not a notification URL Apprise knows "
                                 "(e.g. workflows://, mailtos://, slack://, jsons://)")
        self.targets = [service.url(privacy=True) for service in self._apprise]

    def send(self, alert: Alert) -> bool:
        """True when every target took it (no target: the alert is only printed)."""
        if not self.targets:
            return True
        import apprise

        return bool(self._apprise.notify(body=alert.body, title=alert.title, body_format=apprise.NotifyFormat.TEXT,
                                         notify_type=self.TYPES[alert.kind]))


# --------------------------------------------------------------------------- the round

def run_round(settings: Settings, *, store: Any = None, environ: Mapping[str, str] = os.environ,
              today: date | None = None, now: datetime | None = None, policy: Any = None,
              notifier: Notifier | None = None) -> Outcome:
    """One round for one organisation. ``today``, ``now`` and ``policy`` (the pull's retries) are for tests."""
    from .dataverse import org_root
    from .store import RunStore

    try:
        organisation = org_root(settings.org_url)
    except ValueError as error:
        raise WatchError(str(error)) from None
    round_ = _Round(settings, store or RunStore(), organisation, notifier or Notifier(settings.notify),
                    now or datetime.now(UTC))
    with round_lock(_lock_place(round_.store), organisation) as holder:
        if holder is not None:
            return round_.busy(holder)
        return round_.run(environ, today, policy)


@dataclass
class _Round:
    settings: Settings
    store: Any  # RunStore
    organisation: str
    notifier: Notifier
    now: datetime

    @property
    def host(self) -> str:
        return urlsplit(self.organisation).netloc or self.organisation

    def run(self, environ: Mapping[str, str], today: date | None, policy: Any) -> Outcome:
        import sqlite3

        try:
            state = self.store.watch_state(self.organisation)
        except sqlite3.Error as error:
            return self.failed(None, f"the run store {self.store.location} cannot be read ({error})")
        try:
            report, period = self.pull_and_diagnose(environ, today or self.now.date(), policy)
        except SnapshotError as error:
            return self.failed(state, str(error))
        except (OSError, MemoryError) as error:
            return self.failed(state, f"{type(error).__name__}: {error}")
        except Exception as error:  # a bug must not make the watch silent: it is a failed round like the others
            where = traceback.extract_tb(error.__traceback__)[-1]
            return self.failed(state, f"unexpected {type(error).__name__} at {Path(where.filename).name}:"
                                      f"{where.lineno}: {error}")
        try:
            return self.diagnosed(state or {}, report, period)
        except sqlite3.Error as error:
            return self.failed(state, f"the run store {self.store.location} cannot be written ({error})")

    def pull_and_diagnose(self, environ: Mapping[str, str], until: date, policy: Any) -> tuple[Any, tuple[date, date]]:
        from .dataverse import pull_snapshot, sign_in_unattended
        from .evaluate import diagnose
        from .snapshot import load_snapshot

        since = until - timedelta(days=self.settings.days - 1)
        signin = sign_in_unattended(environ)
        with tempfile.TemporaryDirectory(prefix="watch-") as folder:  # the pulled zip lives for the diagnosis only
            pulled = pull_snapshot(self.organisation, Path(folder) / "snapshot.zip", since, until, signin=signin,
                                   policy=policy)
            if pulled.refused:  # a pull keeps what it could read; a watch round without a table is a failed round
                raise SnapshotError("; ".join(f"{table}: {message}" for table, message in pulled.refused.items()))
            snapshot = load_snapshot(pulled.path)
        report = diagnose(snapshot)
        report.fix_plan(snapshot)  # record ids and links
        report.source = f"watch of {self.host}, emails of {since} to {until}"
        return report, (since, until)

    def diagnosed(self, state: dict, report: Any, period: tuple[date, date]) -> Outcome:
        document = report.to_json()
        plan, summary = report.fix_plan(), report.summary()  # not parsed back from the document: its emails
        changes = _changes(state, plan, summary, self.settings.drop)
        alert = None
        if changes.new or changes.drop_from or changes.recovered:
            alert = render_alert(self.organisation, period, changes, self.share_link(document), now=self.now)
        delivered = self.notifier.send(alert) if alert else True
        run_id = self.store.keep_watch_round(
            self.organisation, _next_state(state, plan, changes, delivered, self.now), report=document,
            period=(str(period[0]), str(period[1])), summary=summary, ttl_days=self.settings.keep_days,
            alert=self.stored(alert, delivered))
        share = "—" if changes.share is None else f"{changes.share:.0%}"
        line = f"kept watch run {run_id} of {self.host}: {share} became cases, {len(plan)} fix-plan entries"
        if alert is None:
            return Outcome(0, line + "; nothing got worse, no alert", run_id=run_id)
        if not delivered:
            return Outcome(1, f"{line}; the alert could not be sent to {', '.join(self.notifier.targets)}: it is "
                              "sent again next round", alert, False, run_id)
        return Outcome(0, f"{line}; alert sent to {len(self.notifier.targets)} target(s)", alert, True, run_id)

    def failed(self, state: dict | None, message: str) -> Outcome:
        """One alert per failure, not one per round: the same failure again is only logged."""
        import sqlite3

        state = dict(state or {})
        failure = state.get("failure")
        signature = _VOLATILE.sub("", message)
        line = f"the watch round of {self.host} failed: {message}"
        if failure and failure.get("signature") == signature:
            return Outcome(1, line + " (already alerted)")
        alert = Alert("failure", f"Email-to-case watch failed for {self.host}",
                      f"{self.host} · round of {_when(_iso(self.now))}\n\n"
                      f"The watch round could not finish: {message}\n\n"
                      "Nothing was kept this round. This is said once: the next round that works says it recovered.")
        delivered = self.notifier.send(alert)
        if delivered:
            state["failure"] = {"signature": signature, "message": message,
                                "since": failure["since"] if failure else _iso(self.now)}
        with contextlib.suppress(sqlite3.Error):  # when the store is what failed, the alert is out all the same
            self.store.keep_watch_round(self.organisation, state, alert=self.stored(alert, delivered))
        sent = "alert sent" if delivered else f"the alert could not be sent to {', '.join(self.notifier.targets)}"
        return Outcome(1, f"{line}; {sent}", alert, delivered)

    def busy(self, holder: str) -> Outcome:
        """Another round of this organisation holds the lock: skip; a round stuck for hours is a failure."""
        started = _holder_start(holder)
        if started is not None and self.now - started > STUCK_AFTER:
            return self.failed(self.store.watch_state(self.organisation),
                               f"the round started {_when(_iso(started))} ({holder.split(' since')[0]}) is still "
                               "running")
        return Outcome(0, f"skipped: a watch round of {self.host} is already running ({holder.strip()})")

    def share_link(self, document: bytes) -> str | None:
        """A link to this round's report for the alert, when ``--share-days`` asks for one."""
        settings = self.settings
        if not settings.share_days:
            return None
        token = self.store.save(document, created_by=f"the watch of {self.host}", ttl_days=settings.share_days,
                                mask=settings.mask_share, name=f"watch {self.host}")
        return f"{settings.app_url.rstrip('/')}/?run={token}"

    def stored(self, alert: Alert | None, delivered: bool) -> Any:
        from .store import WatchAlert

        if alert is None:
            return None
        return WatchAlert(self.organisation, _iso(self.now), alert.kind, alert.title, alert.body, delivered, "")


# --------------------------------------------------------------------------- what changed

def converted_share(summary: dict) -> tuple[float | None, int]:
    """Of the incoming emails that should have become cases, the share that did, and how many there were.

    Replies appended to their active case (``threaded``) and emails not converted by design
    (``by_design``) were never meant to become new cases: they are left out of both sides.
    """
    converted = int(summary.get("converted") or 0) - int(summary.get("threaded") or 0)
    expected = int(summary.get("incoming") or 0) - int(summary.get("by_design") or 0) \
        - int(summary.get("threaded") or 0)
    return (converted / expected if expected > 0 else None), max(expected, 0)


def _changes(state: dict, plan: list[dict], summary: dict, drop: float) -> _Changes:
    from .compare import match_fix_plans

    share, expected = converted_share(summary)
    changes = _Changes(share=share, previous_share=state.get("last_share"), fixed=list(state.get("fixed") or []),
                       recovered=state.get("failure"))
    known = state.get("known")
    if known is None:  # the first round that works: what it finds is where the watch starts from
        return changes
    pairs = match_fix_plans(known, plan)
    changes.new = [entry for index, entry in enumerate(plan) if index not in pairs.values()]
    back = {_compact(entry)["label"] for entry in changes.new}  # gone since the last alert, and now back
    gone = [entry["label"] for index, entry in enumerate(known) if index not in pairs]
    changes.fixed = [label for label in dict.fromkeys(changes.fixed + gone) if label not in back]
    baseline = state.get("baseline")
    if (share is not None and baseline and baseline.get("share") is not None and expected >= MIN_EMAILS_FOR_SHARE
            and (baseline["share"] - share) * 100 >= drop - 1e-9):
        changes.drop_from = baseline
    return changes


def _next_state(state: dict, plan: list[dict], changes: _Changes, delivered: bool, now: datetime) -> dict:
    """What the admins know after this round: a delivered alert makes its news known; one not delivered
    leaves it to be told next round."""
    from .compare import match_fix_plans

    known = state.get("known")
    # the first round's findings are the starting point, not news; undelivered news stays untold
    told = plan if known is None or delivered else [plan[index] for index in match_fix_plans(known, plan).values()]
    share = changes.share
    baseline = state.get("baseline")
    if share is not None and (not baseline or baseline.get("share") is None or share > baseline["share"]
                              or (changes.drop_from and delivered)):
        baseline = {"share": share, "at": _iso(now)}  # the recent best; after a told drop, the new level
    alerted = delivered and (changes.new or changes.drop_from or changes.recovered)
    return {"known": [_compact(entry) for entry in told], "fixed": [] if alerted else changes.fixed,
            "baseline": baseline, "last_share": share, "last_round": _iso(now),
            "failure": None if (delivered or not changes.recovered) else changes.recovered}


def _compact(entry: dict) -> dict:
    """What the state keeps of a fix-plan entry: enough to match it (compare's identities) and name it."""
    from .fix_plan import about_label

    return {"id": entry.get("id"), "cause": entry.get("cause"), "about": entry.get("about"),
            "label": f"{about_label(entry)} ({entry.get('cause')})"}


# --------------------------------------------------------------------------- the message

def render_alert(organisation: str, period: tuple[date, date], changes: _Changes, link: str | None,
                 now: datetime) -> Alert:
    """A short alert: the organisation, what got worse, what got better, the top entries, the report link."""
    host = urlsplit(organisation).netloc or organisation
    worse = bool(changes.new or changes.drop_from)
    lines = [f"{host} · emails of {period[0]} to {period[1]} · round of {_when(_iso(now))}"]
    if changes.recovered:
        lines += ["", f"Recovered: the watch works again (failing since {_when(changes.recovered['since'])}: "
                      f"{_clip(changes.recovered['message'], EVIDENCE_CHARS)})."]
    if worse:
        lines += ["", "Got worse:"]
        lines += [line for entry in changes.new[:TOP_ENTRIES] for line in _entry_lines(entry)]
        if len(changes.new) > TOP_ENTRIES:
            lines.append(f"- and {len(changes.new) - TOP_ENTRIES} more new fix-plan entries (see the report)")
        if changes.drop_from:
            points = (changes.drop_from["share"] - changes.share) * 100
            lines.append(f"- Emails that became cases fell to {changes.share:.0%}, from "
                         f"{changes.drop_from['share']:.0%} on {_when(changes.drop_from['at'])} "
                         f"(down {points:.0f} points)")
    if changes.fixed:
        lines += ["", "Got better:"] + [f"- Gone from the fix plan: {label}" for label in changes.fixed[:TOP_ENTRIES]]
        if len(changes.fixed) > TOP_ENTRIES:
            lines.append(f"- and {len(changes.fixed) - TOP_ENTRIES} more")
    if not changes.drop_from and changes.share is not None:
        was = "" if changes.previous_share is None else f" (last round: {changes.previous_share:.0%})"
        lines += ["", f"Emails that became cases: {changes.share:.0%}{was}."]
    if link:
        lines += ["", f"Report: {link}"]
    title = (f"Email-to-case got worse at {host}" if worse else f"Email-to-case watch recovered for {host}")
    return Alert("worse" if worse else "recovered", title, "\n".join(lines))


def _entry_lines(entry: dict) -> list[str]:
    from .fix_plan import about_label

    blocked = entry.get("emails_blocked") or 0
    lines = [f"- New: {about_label(entry)}, {blocked} email{'' if blocked == 1 else 's'} blocked "
             f"({entry.get('cause')})"]
    why = "; ".join(_sentences(entry.get("evidence"))[:2])
    if why:
        lines.append(f"  Why: {_clip(why, EVIDENCE_CHARS)}")
    if entry.get("fix"):
        lines.append(f"  Fix: {_clip(str(entry['fix']), EVIDENCE_CHARS)}")
    if entry.get("doc_url"):
        lines.append(f"  Docs: {entry['doc_url']}")
    return lines


def _sentences(evidence: object) -> list[str]:
    """Evidence as sentences, whether it is a list of sentences or of structured items with a text."""
    found = []
    for item in evidence if isinstance(evidence, list) else []:
        if isinstance(item, dict):
            item = next((item[key] for key in ("text", "sentence", "summary", "message")
                         if isinstance(item.get(key), str)), None)
        if isinstance(item, str) and item.strip():
            found.append(" ".join(item.split()))
    return found


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- the lock

def _lock_place(store: Any) -> Path:  # a RunStore
    """Beside a SQLite store; for a database server, in this machine's temporary folder (rounds of one
    organisation are meant to run from one scheduler, on one machine)."""
    if store.path is not None:
        return store.path
    return Path(tempfile.gettempdir()) / f"diagnostics-{hashlib.sha256(store.location.encode()).hexdigest()[:16]}"


@contextlib.contextmanager
def round_lock(store_path: Path, organisation: str) -> Iterator[str | None]:
    """Hold the organisation's lock file (next to the store) for the round; yields None when it is ours, else
    what the holder wrote (its process id and start). The lock goes with the process, even a killed one."""
    path = Path(store_path).with_name(f"{Path(store_path).name}.watch-"
                                      f"{hashlib.sha256(organisation.encode()).hexdigest()[:16]}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        if not _try_lock(handle):
            handle.seek(0)
            yield handle.read() or "process unknown"
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()} since {_iso(datetime.now(UTC))}\n")
            handle.flush()
            yield None
        finally:
            _unlock(handle)


def _try_lock(handle: Any) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(handle: Any) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _holder_start(holder: str) -> datetime | None:
    found = re.search(r"since (\S+)", holder)
    try:
        return datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if found else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- small helpers

def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16] + " UTC" if len(iso) >= 16 else iso

