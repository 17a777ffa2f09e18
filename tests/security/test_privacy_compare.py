"""The k-anonymity floor on `compare`, through the real api, worker and PostgreSQL: a row whose
cohort, or whose users of the app, count fewer than the floor is withheld from `query` keys."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dream.app import Dream
from test_privacy import K, ask, campus  # noqa: F401  (campus: the fixture, for this module)


def test_compare_withholds_a_cohort_under_the_floor(
    campus: tuple[TestClient, dict[str, str], Dream],  # noqa: F811
) -> None:
    client, tokens, _ = campus
    # law: alice, bob, carol, dave (matlab), erin (windows) active; medicine: eve, frank, gina.
    shown = ask(client, tokens["query"], "/v1/analytics/compare", app="matlab", a="law",
                b="medicine")  # fmt: skip
    assert (shown["a"]["users"], shown["a"]["active_users"]) == (4, 5)
    assert (shown["b"]["users"], shown["b"]["active_users"]) == (0, 3)
    assert shown["suppressed"] == 0
    # Two users of stata in law: under the floor, withheld (its share would name them).
    hidden = ask(client, tokens["query"], "/v1/analytics/compare", app="stata", a="law",
                 b="medicine")  # fmt: skip
    assert hidden["items"] == [] and hidden["a"] is None and hidden["suppressed"] == 1
    assert hidden["min_group_users"] == K
    whole = ask(client, tokens["steward"], "/v1/analytics/compare", app="stata", a="law",
                b="medicine")  # fmt: skip
    assert (whole["a"]["users"], whole["a"]["share"], whole["test"]) == (2, 0.4, "fisher_exact")
    # Every app: those with a law or medicine user count under the floor are left out.
    listed = ask(client, tokens["query"], "/v1/analytics/compare", a="law", b="medicine")
    assert "stata" not in {row["app"] for row in listed["items"]}
    assert "matlab" in {row["app"] for row in listed["items"]}
