from workflows.customers import match_customer
from workflows.model import Customer, Plan

ACME = Customer("Acme", Plan.PREMIUM, email_domains=("acme.com",))
GLOBEX = Customer("Globex", Plan.ENTERPRISE, usernames=("gina",))


def test_username_match_wins_over_domain() -> None:
    assert match_customer([ACME, GLOBEX], username="gina", email="gina@acme.com") is GLOBEX


def test_email_domain_matches_case_insensitively() -> None:
    assert match_customer([ACME, GLOBEX], username="al", email="Al@ACME.com") is ACME


def test_no_match_means_no_customer() -> None:
    assert match_customer([ACME, GLOBEX], username="x", email="x@other.org") is None
    assert match_customer([ACME], username="x", email="") is None
