"""Guard: every column the export selects exists on the real table (Microsoft's table reference), so a
made-up column cannot come back and make the Web API refuse the whole table."""

from __future__ import annotations

import pytest
from reference_columns import REAL_COLUMNS

from diagnostics import schema
from diagnostics.export_guide import export_steps


@pytest.mark.parametrize("table", sorted(schema.TABLES))
def test_every_selected_column_is_a_real_column(table):
    selected = set(schema.TABLES[table])
    assert selected <= REAL_COLUMNS[table], sorted(selected - REAL_COLUMNS[table])


def test_the_export_guide_selects_what_schema_py_lists():
    for step in export_steps("contoso.crm.dynamics.com", None, None):
        expected = tuple(schema.raw_name(step.table, column) for column in schema.TABLES[step.table])
        assert step.columns == expected
        assert "$select=" + ",".join(expected) in step.url


def test_the_guard_catches_a_column_the_table_lacks():
    assert "queueid" not in REAL_COLUMNS["activitymonitors"]  # correction 5: never selected
    assert "queueid" not in schema.TABLES["activitymonitors"]
    assert "ccrecipients" not in REAL_COLUMNS["emails"]


def test_schema_carries_the_columns_the_corrections_need():
    assert {"statuscode", "acceptingentityid"} <= set(schema.TABLES["emails"])
    assert {"statecode", "deactivatedon"} <= set(schema.TABLES["incidents"])
    assert {"checkifresolved", "resolvedsince"} <= set(schema.TABLES["convertrules"])
    assert "incomingemailfilteringmethod" in schema.TABLES["queues"]
    # third round: entitlement (3), Microsoft's recommendation (3), resolution time on older versions (13)
    assert "checkactiveentitlement" in schema.TABLES["convertrules"]
    assert "recommendation" in schema.TABLES["activitymonitors"]
    assert set(schema.TABLES["incidentresolutions"]) == {"activityid", "incidentid", "statecode", "createdon"}
