"""The intake forms: limits Mattermost imposes and the pure validation rules."""

from __future__ import annotations

import pytest

from workflows import forms
from workflows.model import Form

TECH = forms.FORMS[Form.TECHNICAL]
SALES = forms.FORMS[Form.SALES]
VALID = {
    "cc": "", "subject": "Down", "priority": "urgent", "category": "database",
    "description": "It broke.", "environment": "production", "mattermost_version": "10.11.2",
}


@pytest.mark.parametrize("spec", [TECH, SALES])
def test_titles_labels_and_help_fit_mattermost_limits(spec: forms.FormSpec) -> None:
    assert len(spec.title.encode()) <= 24
    for field in spec.fields:
        assert len(field.label.encode()) <= 24
        assert len(field.help_text.encode()) <= 150
        assert len(field.placeholder.encode()) <= 150


def test_option_values_are_unique_lowercase_slugs() -> None:
    for spec in (TECH, SALES):
        for field in spec.fields:
            values = [o.value for o in field.options]
            assert len(values) == len(set(values))
            assert all(v == v.lower() and " " not in v for v in values)


def test_a_complete_technical_submission_passes() -> None:
    checked = forms.validate(TECH, VALID)
    assert isinstance(checked, forms.CheckedForm)
    assert checked.values["subject"] == "Down"


def test_whitespace_only_required_field_is_missing() -> None:
    assert forms.validate(TECH, {**VALID, "subject": "   "}) == {"subject": "This field is required."}


def test_missing_keys_and_nulls_count_as_empty() -> None:
    errors = forms.validate(SALES, {"subject": None})
    assert set(errors) == {"subject", "category", "description"}


@pytest.mark.parametrize("version", ["10.11", "9.5.0", "10.11.2"])
def test_versions_with_two_or_three_parts_pass(version: str) -> None:
    assert isinstance(forms.validate(TECH, {**VALID, "mattermost_version": version}), forms.CheckedForm)


@pytest.mark.parametrize("version", ["10", "v10.11", "10.11.2.1", "ten.one"])
def test_other_versions_are_refused(version: str) -> None:
    errors = forms.validate(TECH, {**VALID, "mattermost_version": version})
    assert set(errors) == {"mattermost_version"}


def test_mobile_category_requires_both_mobile_fields() -> None:
    errors = forms.validate(TECH, {**VALID, "category": "mobile"})
    assert set(errors) == {"mobile_version", "mobile_device"}


def test_one_mobile_field_requires_the_other() -> None:
    assert set(forms.validate(TECH, {**VALID, "mobile_device": "android"})) == {"mobile_version"}


def test_cc_is_split_on_commas_semicolons_and_spaces_without_repeats() -> None:
    assert forms.split_cc("@a, b;c  d@x.org , @A") == ("@a", "b", "c", "d@x.org")


def test_more_than_twenty_cc_entries_are_refused() -> None:
    errors = forms.validate(TECH, {**VALID, "cc": " ".join(f"u{i}" for i in range(21))})
    assert errors == {"cc": "At most 20 people can be CC'd."}


def test_label_of_a_select_value() -> None:
    assert forms.label_of(TECH.fields, "category", "user-team-and-channel-management") == (
        "User, Team & Channel Management"
    )
