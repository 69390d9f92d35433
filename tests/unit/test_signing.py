"""Signed dialog state and button context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands.signing import BadSignature, Signer, derive_key

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
KEY = derive_key("secret", fallback="")


def test_round_trip() -> None:
    token = Signer(KEY).sign("intake", {"u": "abc"}, now=T0, ttl=timedelta(hours=1))
    assert Signer(KEY).verify("intake", token, now=T0) == {"u": "abc"}


@pytest.mark.parametrize("token", ["", "x", "a.b", "..", "abc.def.ghi"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadSignature):
        Signer(KEY).verify("intake", token, now=T0)


def test_another_key_is_refused() -> None:
    token = Signer(derive_key("other", fallback="")).sign("intake", {}, now=T0, ttl=timedelta(hours=1))
    with pytest.raises(BadSignature, match="signature"):
        Signer(KEY).verify("intake", token, now=T0)


def test_expired_token_is_refused() -> None:
    token = Signer(KEY).sign("intake", {}, now=T0, ttl=timedelta(minutes=5))
    with pytest.raises(BadSignature, match="expired"):
        Signer(KEY).verify("intake", token, now=T0 + timedelta(minutes=6))


def test_token_for_another_purpose_is_refused() -> None:
    token = Signer(KEY).sign("action:take", {}, now=T0, ttl=timedelta(hours=1))
    with pytest.raises(BadSignature, match="issued for"):
        Signer(KEY).verify("intake", token, now=T0)


def test_previous_key_still_verifies_after_rotation() -> None:
    old = derive_key("old", fallback="")
    token = Signer(old).sign("intake", {"n": 1}, now=T0, ttl=timedelta(hours=1))
    assert Signer(KEY, previous_key=old).verify("intake", token, now=T0) == {"n": 1}


def test_empty_secret_derives_a_stable_key_from_the_fallback() -> None:
    assert derive_key("", fallback="tok") == derive_key("", fallback="tok")
    assert derive_key("", fallback="tok") != derive_key("", fallback="other")
