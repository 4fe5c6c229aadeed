"""The memory budget (diagnostics/budget.py): the configured size, the refusal above it."""

from __future__ import annotations

import logging

import psutil
import pytest

from diagnostics import budget

MIB = 2**20


def test_the_budget_is_read_in_mebibytes():
    assert budget.budget_bytes({budget.ENV_VAR: "512"}) == 512 * MIB
    assert budget.budget_bytes({budget.ENV_VAR: " 1.5 "}) == int(1.5 * MIB)


def test_zero_turns_the_check_off():
    assert budget.budget_bytes({budget.ENV_VAR: "0"}) is None
    assert budget.refusal({budget.ENV_VAR: "0"}) is None


def test_the_default_is_three_quarters_of_the_memory_the_process_may_use():
    default = budget.budget_bytes({})
    assert default == int(budget.memory_limit() * budget.DEFAULT_SHARE)
    assert 0 < budget.memory_limit() <= psutil.virtual_memory().total


@pytest.mark.parametrize("text", ["lots", "-5", "nan", "12MB"])
def test_a_value_that_is_no_size_falls_back_to_the_default_with_a_warning(text, caplog):
    with caplog.at_level(logging.WARNING, logger="diagnostics.budget"):
        assert budget.budget_bytes({budget.ENV_VAR: text}) == budget.budget_bytes({})
    assert budget.ENV_VAR in caplog.text and repr(text) in caplog.text


def test_above_the_budget_a_new_upload_is_refused_with_one_line():
    assert budget.resident_bytes() > MIB  # a Python process with pandas loaded holds far more than 1 MiB
    message = budget.refusal({budget.ENV_VAR: "1"})
    assert message == budget.BUSY
    assert "\n" not in message and "busy" in message and "try again in a minute" in message


def test_below_the_budget_nothing_is_refused():
    room = budget.resident_bytes() // MIB + 10_000
    assert budget.refusal({budget.ENV_VAR: str(room)}) is None


def test_resident_bytes_is_this_process_rss():
    measured = psutil.Process().memory_info().rss
    assert abs(budget.resident_bytes() - measured) < 64 * MIB
