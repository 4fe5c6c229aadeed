"""The benchmark's snapshot shapes (benchmarks/shapes.py): deterministic, paged like the Web API, and the wide
shape as busy as it claims (many queues, replies, monitor rows, upper-case lookups) while the engine still
diagnoses it into a realistic mix."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from shapes import build  # noqa: E402

EMAILS = 6000  # more than one page (5,000) of emails
UPPER_GUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


def table(folder: Path, name: str) -> list[dict]:
    pages = sorted(folder.glob(f"{name}*.json"), key=lambda path: (len(path.name), path.name))
    return [row for path in pages for row in orjson.loads(path.read_bytes())["value"]]


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wide")
    build(folder, EMAILS, "wide")
    return folder


def test_wide_is_deterministic(wide: Path, tmp_path: Path) -> None:
    build(tmp_path, EMAILS, "wide")
    assert {path.name: path.read_bytes() for path in wide.iterdir()} == {
        path.name: path.read_bytes() for path in tmp_path.iterdir()}


def test_wide_pages_are_web_api_pages(wide: Path) -> None:
    first, second = (orjson.loads((wide / name).read_bytes()) for name in ("emails.json", "emails.2.json"))
    assert first["@odata.context"].endswith("$metadata#emails") and "@odata.nextLink" in first
    assert "@odata.nextLink" not in second
    assert len(first["value"]) + len(second["value"]) == EMAILS


def test_wide_has_many_queues_replies_monitor_rows_and_upper_case_lookups(wide: Path) -> None:
    queues = table(wide, "queues")
    assert len(queues) == 42 and len({queue["emailaddress"] for queue in queues}) == 42
    emails = table(wide, "emails")
    incoming = [email for email in emails if not email["directioncode"]]
    correlated = Counter(email["correlationmethod"] for email in incoming if email["correlationmethod"])
    assert set(correlated) == {3, 4, 5} and sum(correlated.values()) > 0.15 * len(incoming)
    reasons = Counter(row["reason"] for row in table(wide, "activitymonitors"))
    assert {2, 3, 4, 5, 6, 7, 13, 18} <= set(reasons)
    lookups = [value for email in emails for key, value in email.items()
               if key.startswith("_") and key.endswith("_value") and value]
    assert lookups and all(UPPER_GUID.match(value) for value in lookups)
    assert all(email["activityid"] == email["activityid"].lower() for email in emails)  # primary keys as written
    related = [party for party in table(wide, "activityparties") if party["participationtypemask"] == 13]
    assert len(related) > 0.3 * len(incoming)


def test_the_engine_diagnoses_the_wide_shape_into_a_realistic_mix(wide: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "diagnostics", "diagnose", str(wide), "--output", str(output)],
                   cwd=ROOT, check=True)
    summary = orjson.loads(output.read_bytes())["summary"]
    assert summary["converted"] > 0.4 * summary["incoming"]
    assert summary["threaded"] > 0 and summary["unexplained"] == 0
    assert len(summary["by_primary_cause"]) >= 7
    assert summary["by_primary_cause"]["reply-to-tracked-email"] == max(summary["by_primary_cause"].values())


def test_lean_keeps_only_the_select_columns(tmp_path: Path) -> None:
    build(tmp_path, 300, "lean")
    email = table(tmp_path, "emails")[0]
    assert "directioncode@OData.Community.Display.V1.FormattedValue" not in email
    assert "activityid" in email and "@odata.etag" in email
