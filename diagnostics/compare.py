"""Did the fix work? Two diagnoses of the same organisation compared: by cause, by queue, by fix-plan entry.

Works on the contract's report JSON (``Report.to_dict()`` or a saved report file), so a comparison can be
made between two uploads, two kept runs, or a run and a fresh snapshot. Findings are matched by what they
are about (the same rule, queue, mailbox: the fix plan's ``about``, else the finding's scope and subject),
never by their wording. When the two runs cover periods of different length, counts are also given per
day, so a week is not compared with a month.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pandas as pd

from .app_state import UNEXPLAINED
from .errors import SnapshotError

SCHEMA_VERSION = 1
KIND = "comparison"
IN_SCOPE = ("converted", "not-converted")
MAX_REPORT_BYTES = 2 * 1024**3
EXAMPLES = 20
SAME_PERIOD = ("Both runs cover the same dates: the after run reads the same emails again, and a fix made in between "
               "changes nothing for mail already received. Export again once new mail has arrived.")
RULE_TAKES_NEW_MAIL = ("Changed since the before run: only mail received after the change will show the effect; "
                       "emails already in Dataverse are not processed again.")


def load_report(path: str | Path) -> dict:
    """A report dict from a saved report JSON file, or from a snapshot diagnosed on the spot."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".json":
        data = _read_json(path)
        if _is_report(data):
            return data
    from .pipeline import load_and_diagnose

    # the fix plan carries record ids, so its entries match the other run's by record
    return load_and_diagnose(path, check_budget=False, keep=()).report.to_dict()


def _read_json(path: Path) -> object:
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise SnapshotError(f"{path.name}: larger than 2 GB")
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise SnapshotError(f"{path.name}: not valid JSON ({error.msg} at character {error.pos})") from None


def _is_report(data: object) -> bool:
    return isinstance(data, dict) and "schema_version" in data and "summary" in data and "emails" in data


def compare(before: dict, after: dict) -> dict:
    """The change from ``before`` to ``after``, in the shape of the contract's ``compare`` JSON."""
    for name, report in (("before", before), ("after", after)):
        if not _is_report(report) or not isinstance(report["emails"], list):
            raise SnapshotError(f"{name}: not a diagnosis report (no schema_version, summary and emails)")
    old, new = _emails(before), _emails(after)
    periods = {"before": _period(old, before), "after": _period(new, after)}
    per_day = periods["before"]["days"] != periods["after"]["days"]
    queues = _queue_names(before, after)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "periods": periods,
        "per_day": per_day,
        # The same emails read twice: a fix made in between shows only on mail that arrives after it.
        "same_period": periods["before"]["from"] is not None
        and (periods["before"]["from"], periods["before"]["to"]) == (periods["after"]["from"], periods["after"]["to"]),
        "totals": _totals(old, new, periods),
        "causes": _by_cause(old, new, periods),
        "queues": _by_queue(old, new, periods, queues),
        "findings": _findings(before, after, queues),
        "now_converting": _now_converting(old, new, queues),
    }


# --------------------------------------------------------------------------- emails as one frame per run

def _emails(report: dict) -> pd.DataFrame:
    """Incoming emails in scope, one row per (email, queue the primary cause is about)."""
    rows = [{"activityid": email.get("activityid"), "verdict": email.get("verdict"),
             "primary_cause": email.get("primary_cause"), "sender": (email.get("sender") or "").strip().lower(),
             "subject": email.get("subject"), "received_on": email.get("received_on"),
             "queues": _primary_queues(email)}
            for email in report["emails"] if email.get("verdict") in IN_SCOPE]
    frame = pd.DataFrame(rows, columns=["activityid", "verdict", "primary_cause", "sender", "subject",
                                        "received_on", "queues"])
    frame["received_on"] = pd.to_datetime(frame["received_on"], utc=True, errors="coerce")
    blocked = frame["verdict"] == "not-converted"
    frame["cause"] = frame["primary_cause"].where(frame["primary_cause"].notna(), UNEXPLAINED).where(blocked)
    return frame.explode("queues").rename(columns={"queues": "queue"})


def _primary_queues(email: dict) -> list[str | None]:
    """The queue the primary cause was found on; all the email's queues for an email-wide cause."""
    primary = email.get("primary_cause")
    about = [cause.get("queue") for cause in email.get("causes") or [] if cause.get("id") == primary]
    if about and about[0]:
        return [about[0]]
    return list(email.get("queues") or []) or [None]


def _period(emails: pd.DataFrame, report: dict) -> dict:
    dates = emails.drop_duplicates("activityid")["received_on"].dropna()
    first, last = (dates.min(), dates.max()) if not dates.empty else (None, None)
    days = (last.normalize() - first.normalize()).days + 1 if first is not None else 1
    return {"source": report.get("source"), "created_at": report.get("created_at"),
            "from": first.strftime("%Y-%m-%d") if first is not None else None,
            "to": last.strftime("%Y-%m-%d") if last is not None else None, "days": int(days)}


# --------------------------------------------------------------------------- counts

def _change(before: float, after: float, periods: dict) -> dict:
    before, after = int(before), int(after)  # plain ints, not numpy's: the JSON writer takes only these
    days_before, days_after = periods["before"]["days"], periods["after"]["days"]
    return {"before": before, "after": after, "delta": after - before,
            "before_per_day": round(before / days_before, 2), "after_per_day": round(after / days_after, 2),
            "delta_per_day": round(after / days_after - before / days_before, 2)}


def _totals(old: pd.DataFrame, new: pd.DataFrame, periods: dict) -> dict:
    def counts(frame: pd.DataFrame) -> tuple[int, int]:
        unique = frame.drop_duplicates("activityid")
        return len(unique), int((unique["verdict"] == "not-converted").sum())

    (incoming_before, blocked_before), (incoming_after, blocked_after) = counts(old), counts(new)
    return {"incoming": _change(incoming_before, incoming_after, periods),
            "not_converted": _change(blocked_before, blocked_after, periods),
            "rate_before": _rate(blocked_before, incoming_before), "rate_after": _rate(blocked_after, incoming_after)}


def _rate(part: int, whole: int) -> float | None:
    return round(float(part) / whole, 4) if whole else None


def _by_cause(old: pd.DataFrame, new: pd.DataFrame, periods: dict) -> list[dict]:
    before = old.drop_duplicates("activityid")["cause"].value_counts()
    after = new.drop_duplicates("activityid")["cause"].value_counts()
    incoming = (old["activityid"].nunique(), new["activityid"].nunique())
    rows = []
    for cause in _ordered_causes(before.index.union(after.index)):
        counts = int(before.get(cause, 0)), int(after.get(cause, 0))
        rows.append({"cause": cause, **_change(*counts, periods),
                     "rate_before": _rate(counts[0], incoming[0]), "rate_after": _rate(counts[1], incoming[1])})
    return rows


def _ordered_causes(found: pd.Index) -> list[str]:
    from .causes import CAUSES

    order = [cause.id for cause in CAUSES] + [UNEXPLAINED]
    return sorted(found, key=lambda cause: order.index(cause) if cause in order else len(order))


def _by_queue(old: pd.DataFrame, new: pd.DataFrame, periods: dict, names: dict[str, str]) -> list[dict]:
    rows = []
    for queue in sorted(set(old["queue"].dropna()) | set(new["queue"].dropna()), key=lambda q: names.get(q, q)):
        here = old[old["queue"] == queue], new[new["queue"] == queue]
        incoming = [frame["activityid"].nunique() for frame in here]
        blocked = [frame.loc[frame["verdict"] == "not-converted", "activityid"].nunique() for frame in here]
        causes = [frame["cause"].dropna().value_counts() for frame in here]
        rows.append({"queue": queue, "name": names.get(queue, queue), **_change(*blocked, periods),
                     "incoming_before": incoming[0], "incoming_after": incoming[1],
                     "rate_before": _rate(blocked[0], incoming[0]), "rate_after": _rate(blocked[1], incoming[1]),
                     "causes": {cause: _change(causes[0].get(cause, 0), causes[1].get(cause, 0), periods)
                                for cause in _ordered_causes(causes[0].index.union(causes[1].index))}})
    return rows


def _queue_names(*reports: dict) -> dict[str, str]:
    names: dict[str, str] = {}
    for report in reports:
        for queue in report.get("queues") or []:
            if queue.get("queueid"):
                names[queue["queueid"]] = queue.get("name") or queue.get("emailaddress") or queue["queueid"]
    return names


# --------------------------------------------------------------------------- findings: fixed, new, remaining

def _findings(before: dict, after: dict, names: dict[str, str]) -> dict:
    """Fix-plan entries (or, for reports without a fix plan, environment findings) matched by what they are about."""
    use_plan = "fix_plan" in before and "fix_plan" in after
    old, new = (_labelled(report, use_plan, names) for report in (before, after))
    pairs = _matched(old, new, _identities if use_plan else _finding_identities)
    return {"source": "fix_plan" if use_plan else "findings",
            "fixed": [entry for index, entry in enumerate(old) if index not in pairs],
            "new": [entry for index, entry in enumerate(new) if index not in pairs.values()],
            "remaining": [{**new[later], "before": _blocked(old[earlier]), "after": _blocked(new[later]),
                           "changed": _changed(old[earlier], new[later])} for earlier, later in pairs.items()]}


def _changed(earlier: dict, later: dict) -> bool:
    """The fix asked for differs between the runs (it quotes the record's settings): the record was changed in
    between. Evidence is not compared: it names the emails, which differ from run to run anyway."""
    return bool(earlier.get("fix")) and earlier.get("fix") != later.get("fix")


def _labelled(report: dict, use_plan: bool, names: dict[str, str]) -> list[dict]:
    return [{**entry, "label": _label(entry, names)} for entry in report.get("fix_plan" if use_plan else "findings")
            or []]


def match_fix_plans(before: list[dict], after: list[dict]) -> dict[int, int]:
    """before index -> after index of the fix-plan entries about the same thing (the watch tells new ones)."""
    return _matched(before, after, _identities)


def _matched(old: list[dict], new: list[dict], identities: Callable[[dict], tuple]) -> dict[int, int]:
    """before index -> after index: the same record by id first, then by name (a report built without the
    snapshot knows a rule by its name only)."""
    pairs: dict[int, int] = {}
    for level in (0, 1):
        taken = set(pairs.values())
        wanted = {}
        for index, entry in enumerate(new):
            key = identities(entry)[level]
            if index not in taken and key is not None:
                wanted.setdefault(key, index)
        for index, entry in enumerate(old):
            key = identities(entry)[level]
            if index not in pairs and key in wanted and wanted[key] not in pairs.values():
                pairs[index] = wanted[key]
    return pairs


def _identities(entry: dict) -> tuple[tuple | None, tuple | None]:
    """(by id, by name) of a fix-plan entry's record."""
    about = entry.get("about") or {}
    kind = (entry.get("cause"), about.get("table"))
    record_id, name = (about.get("id") or "").lower(), (about.get("name") or "").lower()
    return (kind + (record_id,) if record_id else None), (kind + (name,) if name else None)


def _finding_identities(finding: dict) -> tuple[tuple | None, tuple | None]:
    key = (finding.get("id"), finding.get("scope"), str(finding.get("subject") or "").lower())
    return key, key


def _blocked(entry: dict) -> int | None:
    value = entry.get("emails_blocked")
    return int(value) if isinstance(value, int | float) else None


def _label(entry: dict, names: dict[str, str]) -> str:
    """What the entry is about, in words and by name: "Rule 'Billing email to case'", "Queue 'Sales'"."""
    from .fix_plan import about_label

    if entry.get("about"):
        label = about_label(entry)
    else:
        subject = str(entry.get("subject") or "-")
        scope = str(entry.get("scope") or "")
        label = f"{scope} '{names.get(subject, subject)}'" if scope == "queue" else f"{scope} {subject}".strip()
    return label[:1].upper() + label[1:]


def verdict(result: dict) -> str:
    """The comparison in one sentence: "Fixed 2, new 0, remaining 3; the share of incoming emails not converted
    went from 30% to 12% (5.4 to 2.1 a day)."."""
    findings, totals = result["findings"], result["totals"]
    counts = f"Fixed {len(findings['fixed'])}, new {len(findings['new'])}, remaining {len(findings['remaining'])}"
    before, after = totals["rate_before"], totals["rate_after"]
    if before is None or after is None:
        return counts + "; one of the runs has no incoming email to compare."
    moved = ("stayed at" if round(before * 100) == round(after * 100) else
             "fell from" if after < before else "rose from")
    share = f"{before:.0%}" if moved == "stayed at" else f"{before:.0%} to {after:.0%}"
    blocked = totals["not_converted"]
    daily = (f" ({blocked['before_per_day']:g} a day before, {blocked['after_per_day']:g} after, as the periods "
             "differ)") if result["per_day"] else ""
    return f"{counts}; the share of incoming emails not converted {moved} {share}{daily}."






# --------------------------------------------------------------------------- evidence that the fix works

def _now_converting(old: pd.DataFrame, new: pd.DataFrame, names: dict[str, str]) -> dict:
    """Emails blocked before and converted after, for the same sender, else the same queue."""
    blocked = old[old["verdict"] == "not-converted"]
    converted = new[new["verdict"] == "converted"]
    by_sender = blocked[blocked["sender"] != ""].drop_duplicates("sender").merge(
        converted[converted["sender"] != ""].drop_duplicates("sender"), on="sender", suffixes=("_before", "_after"))
    by_queue = blocked.dropna(subset=["queue"]).drop_duplicates("queue").merge(
        converted.dropna(subset=["queue"]).drop_duplicates("queue"), on="queue", suffixes=("_before", "_after"))
    return {"same_sender": len(by_sender), "same_queue": len(by_queue),
            "examples": _examples(by_sender, "sender", names) + _examples(by_queue, "queue", names)}


def _examples(pairs: pd.DataFrame, matched_by: str, names: dict[str, str]) -> list[dict]:
    pairs = pairs.head(EXAMPLES)
    queue = pairs["queue_before"] if matched_by == "sender" else pairs["queue"]
    return [{"matched_by": matched_by, "sender": sender, "queue": names.get(q, q) if isinstance(q, str) else None,
             "before": {"activityid": before_id, "subject": before_subject, "primary_cause": cause},
             "after": {"activityid": after_id, "subject": after_subject}}
            for sender, q, before_id, before_subject, cause, after_id, after_subject in zip(
                pairs["sender" if matched_by == "sender" else "sender_before"], queue, pairs["activityid_before"],
                pairs["subject_before"], pairs["cause_before"], pairs["activityid_after"], pairs["subject_after"],
                strict=True)]


def without_subjects(result: dict) -> dict:
    """A copy to share masked: the examples' subjects hidden (the store masks the addresses)."""
    from .store import HIDDEN_SUBJECT

    examples = [{**example, "before": {**example["before"], "subject": HIDDEN_SUBJECT},
                 "after": {**example["after"], "subject": HIDDEN_SUBJECT}}
                for example in result["now_converting"]["examples"]]
    return {**result, "now_converting": {**result["now_converting"], "examples": examples}}


# --------------------------------------------------------------------------- text

def render_compare_text(result: dict) -> str:
    """A readable summary for ``compare --format text``."""
    periods, totals = result["periods"], result["totals"]
    unit = "per day" if result["per_day"] else "emails"
    key = "_per_day" if result["per_day"] else ""
    lines = [verdict(result)]
    if result.get("same_period"):
        lines.append(SAME_PERIOD)
    lines += [f"Before: {periods['before']['from'] or '-'} to {periods['before']['to'] or '-'} "
             f"({periods['before']['days']} days)",
             f"After:  {periods['after']['from'] or '-'} to {periods['after']['to'] or '-'} "
             f"({periods['after']['days']} days)",
             f"Not converted ({unit}): {_figure(totals['not_converted'], key)}", "", "By cause:"]
    lines += [f"  {_figure(row, key):<28} {row['cause']}" for row in result["causes"]] or ["  (none)"]
    lines += ["", "By queue:"]
    lines += [f"  {_figure(row, key):<28} {row['name']}" for row in result["queues"]] or ["  (none)"]
    for status in ("fixed", "new", "remaining"):
        entries = result["findings"][status]
        lines += ["", f"{status.capitalize()} ({len(entries)}):"]
        lines += [f"  {entry['label']}" + (f" ({RULE_TAKES_NEW_MAIL})" if entry.get("changed") else "")
              for entry in entries] or ["  (none)"]
    evidence = result["now_converting"]
    lines += ["", f"Now converting: {evidence['same_sender']} senders and {evidence['same_queue']} queues that were "
                  "blocked before have emails converted after."]
    return "\n".join(lines) + "\n"


def _figure(row: dict, key: str) -> str:
    before, after, delta = row[f"before{key}"], row[f"after{key}"], row[f"delta{key}"]
    return f"{before} -> {after} ({'+' if delta > 0 else ''}{delta})"
