"""Snapshot shapes for the benchmarks: the same number of emails, two different tenants.

- ``lean``: the demo (`diagnostics.demo`) cut down to what a `$select` export holds: the columns of the
  export guide's `$select`, the lookup annotations its `Prefer` header adds and each record's `@odata.etag`.
- ``wide``: the same columns, from a bigger organisation: each of the
  demo's six queues exists in seven regions (42 queues, each with its mailbox, rule, rule items and flows),
  twice the demo's share of replies (In-Reply-To a tracked email, correlated by In-Reply-To, tracking token or
  conversation index, with a parent activity) and outgoing answers, activity monitor rows for most converted
  emails (reasons 2-7, 13 and 18, as ARC leaves when it evaluates an email again), Related parties pointing
  at the cases, and every lookup GUID (``_..._value``) in upper case, as some exports and integrations write
  them. Pages of 5,000 records (``emails.json``, ``emails.2.json``…) with ``@odata.context`` and
  ``@odata.nextLink``: the loader's fast path.

Both are deterministic (seeded). Around 200,000 emails give ~1.1 M records; 20,000 make a quick run.

    .venv/bin/python benchmarks/shapes.py FOLDER [--shape lean|wide] [--emails 20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a plain script: import the package from the checkout

from diagnostics import demo, schema  # noqa: E402
from diagnostics.export_guide import select_columns  # noqa: E402

SHAPES = ("lean", "wide")
PAGE_SIZE = 5000
REGIONS = ("emea", "amer", "apac", "uk", "dach", "nordics", "latam")  # the first keeps the demo's own ids
WIDE_SHARES = {  # scenario -> share of all emails; the rest of the demo's shares stay (conversions shrink)
    "outgoing": 0.16, "reply": 0.16, "reply-other-record": 0.02, "reply-uncorrelated": 0.015,
}
CORRELATIONS = (3, 4, 5)  # In-Reply-To, tracking token, conversation index
MONITOR_REASONS = (3, 3, 3, 2, 4, 5, 6, 7, 13)  # weights by repetition: "already connected" is the usual one
MONITORED_SHARE = 0.6  # converted incoming emails ARC evaluated again (a later update of the email)
FAILED_SHARE = 0.03  # of those, a Failed row (reason 18) from an earlier attempt
RULE_OF_QUEUE = {demo._id("queue", rule.key): demo._id("convertrule", rule.key) for rule in demo.RULES}


def build(folder: Path, emails: int, shape: str) -> tuple[float, int]:
    """Write the snapshot of `shape` into `folder`; returns (seconds, bytes of JSON)."""
    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    {"lean": write_lean, "wide": write_wide}[shape](folder, emails)
    return time.perf_counter() - start, sum(path.stat().st_size for path in folder.glob("*.json"))


# --------------------------------------------------------------------------- lean


def lean_keys(table: str) -> set[str]:
    """What a `$select` export with `Prefer: odata.include-annotations="*"` holds of a record."""
    keys = {"@odata.etag", *select_columns(table)}
    return keys | {f"{key}{schema.LOOKUP_TYPE}" for key in keys if key.startswith("_")}


def write_lean(folder: Path, emails: int) -> None:
    """The demo snapshot, every page cut down to the lean shape."""
    demo.write_demo(folder, emails=emails, page_size=PAGE_SIZE)
    for path in folder.glob("*.json"):
        page = orjson.loads(path.read_bytes())
        keep = lean_keys(path.name.split(".")[0])
        page["value"] = [{key: value for key, value in row.items() if key in keep} for row in page["value"]]
        path.write_bytes(orjson.dumps(page))


# --------------------------------------------------------------------------- wide


class Regions:
    """The demo's queues, mailboxes, rules, rule items and flows copied once per region: id and address maps."""

    STATIC = ("queues", "mailboxes", "convertrules", "convertruleitems", "workflows")

    def __init__(self) -> None:
        self.ids: list[dict[str, str]] = [{} for _ in REGIONS]
        self.addresses: list[dict[str, str]] = [{} for _ in REGIONS]
        for region, name in enumerate(REGIONS[1:], start=1):
            for key, (_name, address, _owner) in demo.QUEUES.items():
                self.ids[region][demo._id("queue", key)] = demo._id("queue", f"{key}/{name}")
                self.ids[region][demo._id("mailbox", key)] = demo._id("mailbox", f"{key}/{name}")
                local, domain = address.split("@")
                self.addresses[region][address] = f"{local}.{name}@{domain}"
            for rule in demo.RULES:
                self.ids[region][demo._id("convertrule", rule.key)] = demo._id("convertrule", f"{rule.key}/{name}")
                self.ids[region][demo._rule_flow_id(rule)] = demo._id("workflow", f"{rule.key}/own/{name}")
                for index in range(len(rule.items)):
                    for kind, make in (("convertruleitem", demo._item_id), ("workflow", demo._workflow_id)):
                        self.ids[region][make(rule, index)] = demo._id(kind, f"{rule.key}/{index}/{name}")

    def of(self, activityid: str) -> int:
        """The region of an email: spread evenly, fixed by its id."""
        return int(activityid[:8], 16) % len(REGIONS)

    def move(self, record: dict, region: int) -> dict:
        """The record with the queue-side ids and addresses of `region` (region 0: as it is)."""
        if not region:
            return record
        ids, addresses = self.ids[region], self.addresses[region]
        moved = {}
        for key, value in record.items():
            if isinstance(value, str):
                value = ids.get(value) or addresses.get(value) or value
                if key == "torecipients":
                    value = ";".join(addresses.get(part, part) for part in value.split(";"))
            moved[key] = value
        return moved

    def copies(self, entity_set: str, record: dict) -> Iterator[dict]:
        """A static record of the demo and its copy in every other region, named after the region."""
        yield record
        if entity_set not in self.STATIC or (entity_set == "mailboxes" and record["mailboxid"] not in self.ids[1]):
            return  # agents' mailboxes are not per region
        for region, name in enumerate(REGIONS[1:], start=1):
            copy = self.move(record, region)
            if entity_set == "mailboxes":  # one failing mailbox (the demo's) is enough
                copy.update(incomingemailstatus=1, lastsyncerror=None, lastsuccessfulsynccompletedon=demo._iso(
                    demo.WINDOW_END - 240))
            else:
                copy["name"] = f"{record['name']} ({name.upper()})"
            yield copy


def upper_lookups(record: dict) -> dict:
    """Every lookup GUID (``_..._value``) in upper case; primary keys stay as Dataverse writes them."""
    return {key: value.upper() if key.startswith("_") and key.endswith("_value") and isinstance(value, str) else value
            for key, value in record.items()}


class Extras:
    """What a busy tenant adds to an email's records: varied correlation, monitor rows, Related parties."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def add(self, records: demo.Records) -> demo.Records:
        email = next(record for entity_set, record in records if entity_set == "emails")
        if email["correlationmethod"]:
            email["correlationmethod"] = self.rng.choice(CORRELATIONS)
        incident = demo._child_id(email["activityid"], "incident")
        if email["directioncode"] or email.get("_regardingobjectid_value") != incident:
            return records  # only the emails that opened a case: a reply to a resolved case must stay pending
        extra = [("activityparties", self.related(email, incident))]
        if self.rng.random() < MONITORED_SHARE:
            extra.append(("activitymonitors", self.monitor(records, email)))
        return [*records, *extra]

    def related(self, email: dict, incident: str) -> dict:
        """ARC adds the case it created to the email's Related parties."""
        return {
            "activitypartyid": demo._child_id(email["activityid"], "activityparty/13/related"),
            **demo._lookup("_activityid_value", email["activityid"], "email"),
            "participationtypemask": 13,
            "addressused": None,
            **demo._lookup("_partyid_value", incident, "incident"),
        }

    def monitor(self, records: demo.Records, email: dict) -> dict:
        failed = self.rng.random() < FAILED_SHARE
        rule = self.rule_of(records)
        return {
            "activitymonitorid": demo._child_id(email["activityid"], "activitymonitor/again"),
            **demo._lookup("_ruleid_value", rule, "convertrule"),
            **demo._lookup("_conditionid_value", None, "convertruleitem"),
            **demo._lookup("_monitoredactivityitemid_value", email["activityid"], "email"),
            "currentstate": 2 if failed else 3,
            "reason": 18 if failed else self.rng.choice(MONITOR_REASONS),
            "contactcreatedbyrule": False,
            "recommendation": None,
            "createdon": email["modifiedon"],
        }

    @staticmethod
    def rule_of(records: demo.Records) -> str | None:
        """The rule of the queue whose queue item the email has (the demo's ids: regions are applied later)."""
        for entity_set, record in records:
            if entity_set == "queueitems" and record["_queueid_value"] in RULE_OF_QUEUE:
                return RULE_OF_QUEUE[record["_queueid_value"]]
        return None


def wide_records(emails: int) -> Iterator[tuple[str, dict]]:
    """(entity set, record) of the wide snapshot, in writing order."""
    shares = {name: (cause, WIDE_SHARES.get(name, share), minimum)
              for name, (cause, share, minimum) in demo.SCENARIOS.items()}
    regions, extras = Regions(), Extras(random.Random(demo.SEED + 1))
    with mock.patch.dict(demo.SCENARIOS, shares):  # the demo's generator, with more replies (restored after)
        for activityid, _intent, records in demo._generate(emails):
            if not activityid:
                for entity_set, record in records:
                    for copy in regions.copies(entity_set, record):
                        yield entity_set, upper_lookups(copy)
                continue
            region = regions.of(activityid)
            for entity_set, record in extras.add(records):
                yield entity_set, upper_lookups(regions.move(record, region))


def write_wide(folder: Path, emails: int) -> None:
    for stale in folder.glob("*.json"):
        stale.unlink()
    sink = lambda name, data: (folder / name).write_bytes(data)  # noqa: E731
    writers = {name: demo.PageWriter(name, PAGE_SIZE, sink) for name in demo.ENTITY_SETS}
    keep = {name: lean_keys(name) for name in demo.ENTITY_SETS}
    for entity_set, record in wide_records(emails):
        writers[entity_set].add({key: value for key, value in record.items() if key in keep[entity_set]})
    for writer in writers.values():
        writer.flush(last=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--shape", choices=SHAPES, default="wide")
    parser.add_argument("--emails", type=int, default=20_000)
    args = parser.parse_args(argv)
    seconds, size = build(args.folder, args.emails, args.shape)
    records = sum(len(orjson.loads(path.read_bytes())["value"]) for path in args.folder.glob("*.json"))
    print(f"{args.shape}: {args.emails:,} emails, {records:,} records, {size / 2**20:,.1f} MB in {seconds:.1f} s")


if __name__ == "__main__":
    main()
