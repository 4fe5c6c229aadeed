"""The project stands alone: no file reaches for a `shared` folder beside or above the repository."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A path that climbs out of the repository to a folder named shared: "..", a separator, then the name; or a
# pathlib parent joined with the name.
OUTSIDE_SHARED = re.compile(r"\.\.[/\\]+shared\b|parents?(\[\d+\])?\s*/\s*[\"']shared[\"']")


def project_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_the_pattern_catches_the_slips_it_guards_against() -> None:
    name = "shared"
    for slip in (f'SAMPLE = ROOT.parent / "{name}" / "samples"', f"see ../{name}/samples", f"parents[2] / '{name}'"):
        assert OUTSIDE_SHARED.search(slip), slip
    assert not OUTSIDE_SHARED.search("a shared report, shared/ inside the project")


def test_no_file_refers_to_a_shared_folder_outside_the_repository() -> None:
    files = project_files()
    assert any(path.name == "conftest.py" for path in files)  # the listing found the project
    offenders = []
    for path in files:
        if path == Path(__file__).resolve():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{path.relative_to(ROOT)}:{number}" for number, line in enumerate(text.splitlines(), 1)
                      if OUTSIDE_SHARED.search(line)]
    assert offenders == []


def test_fixtures_travel_with_their_expected_results() -> None:
    assert (ROOT / "tests" / "fixtures" / "snapshot-basic" / "EXPECTED.md").is_file()
    assert sorted(p.name for p in (ROOT / "tests" / "fixtures" / "headers").glob("*.txt")) == [
        "exchange-online-reply.txt", "pasted-lost-indentation.txt"]
