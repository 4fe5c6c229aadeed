"""Compare's first sentence, the same-period flag, records named in words, and a changed rule's note."""

import copy
import re

import pytest
from test_compare import records, report_of, sales_rule_activated

from diagnostics.compare import RULE_TAKES_NEW_MAIL, SAME_PERIOD, compare, render_compare_text, verdict

RAW_TABLES = re.compile(r"\b(convertrules|asyncoperations|queues|systemusers|mailboxes|workflows)\b")


@pytest.fixture(scope="module")
def before() -> dict:
    return report_of(records())


def test_same_snapshot_twice_is_the_same_period_and_says_nothing_changed(before):
    result = compare(before, copy.deepcopy(before))
    assert result["same_period"] is True and result["per_day"] is False
    remaining = len(result["findings"]["remaining"])
    rate = result["totals"]["rate_before"]
    assert verdict(result) == (f"Fixed 0, new 0, remaining {remaining}; the share of incoming emails not converted "
                               f"stayed at {rate:.0%}.")
    text = render_compare_text(result)
    assert text.splitlines()[:2] == [verdict(result), SAME_PERIOD]


def test_a_fix_reads_as_fixed_and_a_lower_share(before):
    after = report_of(sales_rule_activated(records()))
    result = compare(before, after)
    fixed = len(result["findings"]["fixed"])
    assert fixed >= 1
    sentence = verdict(result)
    assert sentence.startswith(f"Fixed {fixed}, new {len(result['findings']['new'])}, remaining ")
    before_rate, after_rate = result["totals"]["rate_before"], result["totals"]["rate_after"]
    assert after_rate < before_rate
    assert f"fell from {before_rate:.0%} to {after_rate:.0%}." in sentence


def test_periods_of_different_length_give_the_counts_per_day(before):
    after = copy.deepcopy(before)
    first = after["emails"][0]
    first["received_on"] = "2026-12-30T10:00:00Z"  # the after run now spans far more days
    result = compare(before, after)
    assert result["per_day"] is True and result["same_period"] is False
    blocked = result["totals"]["not_converted"]
    assert (f"({blocked['before_per_day']:g} a day before, {blocked['after_per_day']:g} after, as the periods "
            "differ)") in verdict(result)


def test_findings_are_named_in_words_never_by_table(before):
    result = compare(before, copy.deepcopy(before))
    labels = [entry["label"] for status in ("fixed", "new", "remaining") for entry in result["findings"][status]]
    assert labels
    for label in labels:
        assert not RAW_TABLES.search(label), label
        assert label[:1].isupper()
    assert any(label.startswith(("Rule '", "Queue '")) for label in labels)


def test_a_rule_changed_in_between_says_only_new_mail_shows_the_effect(before):
    after = copy.deepcopy(before)
    entry = after["fix_plan"][0]
    entry["fix"] = entry["fix"] + " (changed)"  # the fix quotes the record's settings: they changed
    result = compare(before, after)
    changed = [item for item in result["findings"]["remaining"] if item["changed"]]
    assert [item["fix"] for item in changed] == [entry["fix"]]
    assert all(not item["changed"] for item in result["findings"]["remaining"] if item["fix"] != entry["fix"])
    assert RULE_TAKES_NEW_MAIL in render_compare_text(result)
    assert RULE_TAKES_NEW_MAIL not in render_compare_text(compare(before, copy.deepcopy(before)))
