"""Which customer organisation (and so which support plan) a requester belongs to. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.model import Customer


def match_customer(
    customers: Sequence[Customer], *, username: str, email: str
) -> Customer | None:
    """A username listed by a customer wins; then the e-mail's domain; no match means no plan."""
    name = username.lower().lstrip("@")
    for customer in customers:
        if name in customer.usernames:
            return customer
    domain = email.rpartition("@")[2].lower() if "@" in email else ""
    for customer in customers:
        if domain and domain in customer.email_domains:
            return customer
    return None
