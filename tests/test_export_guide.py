"""The Web API URLs of the export guide."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from diagnostics import export_guide, schema


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_one_url_per_table_with_exactly_the_schema_columns():
    steps = export_guide.export_steps("https://contoso.crm.dynamics.com", date(2026, 10, 1), date(2026, 10, 31))
    assert [step.table for step in steps] == list(schema.TABLES)
    for step in steps:
        parts = urlsplit(step.url)
        assert parts.scheme == "https" and parts.netloc == "contoso.crm.dynamics.com"
        assert parts.path == f"/api/data/v9.2/{step.table}"
        selected = query(step.url)["$select"].split(",")
        expected = [f"_{column}_value" if kind == "lookup" else column
                    for column, kind in schema.TABLES[step.table].items()]
        assert selected == expected
        assert step.file_name == f"{step.table}.json"


def test_big_tables_are_filtered_to_the_date_range():
    steps = {step.table: step for step in export_guide.export_steps("contoso.crm.dynamics.com", date(2026, 10, 1),
                                                                     date(2026, 10, 31))}
    emails = query(steps["emails"].url)["$filter"]
    assert emails == "createdon ge 2026-10-01T00:00:00Z and createdon lt 2026-11-01T00:00:00Z"
    assert "activityid_email/createdon ge 2026-10-01T00:00:00Z" in query(steps["activityparties"].url)["$filter"]
    assert query(steps["asyncoperations"].url)["$filter"].startswith("statuscode eq 31 and createdon ge")
    assert query(steps["queueitems"].url)["$filter"].startswith("objecttypecode eq 4202 and createdon ge")
    assert "createdon ge 2026-10-01T00:00:00Z" in query(steps["activitymonitors"].url)["$filter"]
    # cases a reply is regarding may be older than the period: every case changed since the start, no end
    assert query(steps["incidents"].url)["$filter"] == (  # third round, item 1: cases the period's emails regard
        "((createdon ge 2026-10-01T00:00:00Z and createdon lt 2026-11-01T00:00:00Z) or Incident_Emails/any("
        "e:e/createdon ge 2026-10-01T00:00:00Z and e/createdon lt 2026-11-01T00:00:00Z))")
    assert query(steps["incidentresolutions"].url)["$filter"].startswith("statecode eq 1 and ((incidentid/createdon")
    for table in ("contacts", "accounts", "queues", "convertrules", "mailboxes", "systemusers"):
        assert "$filter" not in query(steps[table].url)
    assert " " not in steps["emails"].url  # spaces are encoded
    assert unquote(steps["emails"].url).count("createdon") == 3


def test_without_dates_only_the_fixed_conditions_remain():
    steps = {step.table: step for step in export_guide.export_steps("contoso.crm.dynamics.com", None, None)}
    assert "$filter" not in query(steps["emails"].url)
    assert query(steps["asyncoperations"].url)["$filter"] == "statuscode eq 31"


@pytest.mark.parametrize("pasted", ["contoso.crm4.dynamics.com", "https://contoso.crm4.dynamics.com/",
                                    "https://CONTOSO.crm4.dynamics.com/main.aspx?appid=1",
                                    " contoso.crm4.dynamics.com "])
def test_org_url_from_what_admins_paste(pasted):
    assert export_guide.org_root(pasted) == "https://contoso.crm4.dynamics.com"


@pytest.mark.parametrize("bad", ["", "http://contoso.crm.dynamics.com", "javascript:alert(1)", "https://",
                                 "https://exa mple.com", "ftp://contoso.com", "https://a\"b.com"])
def test_bad_org_urls_are_refused(bad):
    with pytest.raises(ValueError):
        export_guide.org_root(bad)


def test_reversed_dates_are_refused():
    with pytest.raises(ValueError):
        export_guide.export_steps("contoso.crm.dynamics.com", date(2026, 11, 2), date(2026, 11, 1))


def test_console_script_sends_the_prefer_header_and_follows_pages():
    steps = export_guide.export_steps("contoso.crm.dynamics.com", date(2026, 10, 1), date(2026, 10, 31))
    script = export_guide.console_script(steps)
    assert export_guide.PREFER_HEADER == 'odata.include-annotations="*"'
    assert "odata.include-annotations=\"*\"" in script
    assert "@odata.nextLink" in script and "credentials: \"include\"" in script
    assert "${table}.${page}.json" in script
    for step in steps:
        assert step.url in script


def test_environment_variable_value_is_taken_through_its_definition():
    """Correction 12: a value row's schemaname need not be its definition's; filter through the lookup's
    navigation property (EnvironmentVariableDefinitionId, per the environmentvariablevalue table reference)."""
    steps = {step.table: step for step in export_guide.export_steps("contoso.crm.dynamics.com", None, None)}
    values = query(steps["environmentvariablevalues"].url)["$filter"]
    assert values == "EnvironmentVariableDefinitionId/schemaname eq 'msdyn_ArcCreateContactWithRuleOwner'"
    assert "_environmentvariabledefinitionid_value" in query(steps["environmentvariablevalues"].url)["$select"]
    assert query(steps["environmentvariabledefinitions"].url)["$filter"].startswith("schemaname eq ")
