"""The same environment exported as Web API JSON and as a Configuration Migration zip diagnoses identically."""

from __future__ import annotations

import orjson

from diagnostics.cmt import write_cmt_zip
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_snapshot, load_uploaded


def _records(files: dict[str, bytes]) -> dict[str, list[dict]]:
    records: dict[str, list[dict]] = {}
    for name, data in sorted(files.items()):
        table = name.split(".")[0].split("/")[-1]
        records.setdefault(table, []).extend(orjson.loads(data)["value"])
    return records


def _comparable(report) -> dict:
    data = report.to_dict()
    return {key: value for key, value in data.items() if key not in ("source", "created_at")}


def test_demo_as_json_and_as_cmt_zip_diagnose_identically(tmp_path):
    files = demo_files(emails=400)
    archive = tmp_path / "data.zip"
    write_cmt_zip(_records(files), archive)
    from_json = _comparable(diagnose(load_uploaded(list(files.items()))))
    from_cmt = _comparable(diagnose(load_snapshot(archive)))
    assert from_json["summary"]["not_converted"] > 0
    assert from_cmt == from_json
