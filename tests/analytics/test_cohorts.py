"""Cohorts, shares and compare on hand-built sessions: known counts give known shares, the
Wilson interval and the test statsmodels and scipy compute here, and the same sessions answer
differently by the user's (directory) and the machine's faculty, both right."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import numpy as np
from fastapi.testclient import TestClient
from scipy.stats import bootstrap, fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from dream.analytics.filters import Filters, FilterError
from dream.app import Dream
from dream.web.app import create_app
from dream.analytics.queries import Analytics
from dream.analytics.questions import BY_NAME
from dream.parsing.model import ProcessRecord
from dream.snapshots import Snapshot
from dream.storage.database import Database
from dream.storage.directory import Directory, DirectoryError, Member
from dream.storage.partitions import PartitionManager
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter
from sessions_data import Session

D = datetime(2026, 10, 5, 9, tzinfo=UTC)
WEEK = {"from": D - timedelta(hours=9), "to": D + timedelta(days=7)}


def ran(user: str, app: str, faculty: str, *, host: str | None = None, hour: int = 0,
        **kw: Any) -> Session:  # fmt: skip
    start = D + timedelta(hours=hour)
    return Session(host or f"{faculty}-{user}", user, app, start, start + timedelta(minutes=29),
                   60, faculty=faculty, **kw)  # fmt: skip


def cohort(faculty: str, n: int, used: int, app: str = "matlab") -> list[Session]:
    """``n`` users of ``faculty`` machines, each active (a browser), ``used`` of them ran app."""
    users = [f"{faculty[:3]}{i:02d}" for i in range(n)]
    out = [ran(u, "firefox", faculty, pid=1) for u in users]
    return out + [ran(u, app, faculty, pid=2, hour=1) for u in users[:used]]


def compare(analytics: Analytics, **params: Any) -> list[dict[str, Any]]:
    q = BY_NAME["compare"]
    filters = Filters.model_validate({**WEEK, **params.pop("filters", {})})
    return q.ask(analytics, filters, q.params.model_validate(params)).items


def test_8_of_10_against_2_of_10(analytics_of: Callable[[list[Session]], Analytics]) -> None:
    a = analytics_of(cohort("engineering", 10, 8) + cohort("science", 10, 2))
    [row] = compare(a, a="engineering", b="science", filters={"app": "matlab"})
    assert (row["a_users"], row["a_active_users"], row["b_users"], row["b_active_users"]) == (
        8, 10, 2, 10)  # fmt: skip
    assert (row["a_share"], row["b_share"]) == (0.8, 0.2)
    assert row["difference"] == pytest.approx(0.6)
    lo, hi = proportion_confint(8, 10, alpha=0.05, method="wilson")
    assert (row["a_ci95_lo"], row["a_ci95_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    assert round(lo, 2) == 0.49 and round(hi, 2) == 0.94
    assert (row["b_ci95_lo"], row["b_ci95_hi"]) == pytest.approx(
        proportion_confint(2, 10, alpha=0.05, method="wilson"))  # fmt: skip
    # Every expected cell is 5: the z-test.
    assert row["test"] == "two_proportion_z"
    assert row["p_value"] == pytest.approx(proportions_ztest([8, 2], [10, 10])[1])
    assert row["p_value"] < 0.05
    assert row["warning"] is None
    # Hours per active user: 8 half-hours over 10 users, and scipy's bootstrap interval.
    assert row["a_hours_per_active_user"] == pytest.approx(0.4)
    ci = bootstrap(([0.0] * 2 + [0.5] * 8,), np.mean, confidence_level=0.95, n_resamples=2000,
                   method="percentile", rng=np.random.default_rng(19)).confidence_interval
    assert (row["a_hours_ci95_lo"], row["a_hours_ci95_hi"]) == pytest.approx((ci.low, ci.high))
    assert row["a_hours_ci95_lo"] < 0.4 < row["a_hours_ci95_hi"]


def test_equal_shares_are_not_significant(
    analytics_of: Callable[[list[Session]], Analytics],
) -> None:
    a = analytics_of(cohort("engineering", 10, 5) + cohort("science", 10, 5))
    [row] = compare(a, a="engineering", b="science", filters={"app": "matlab"})
    assert (row["a_share"], row["b_share"], row["difference"]) == (0.5, 0.5, 0.0)
    assert row["test"] == "two_proportion_z"  # every expected cell is 5
    assert row["p_value"] == pytest.approx(proportions_ztest([5, 5], [10, 10])[1])
    assert row["p_value"] > 0.5
    assert (row["a_ci95_lo"], row["a_ci95_hi"]) == pytest.approx(
        proportion_confint(5, 10, alpha=0.05, method="wilson"))  # fmt: skip


def test_small_cells_use_fisher_and_warn(
    analytics_of: Callable[[list[Session]], Analytics],
) -> None:
    a = analytics_of(cohort("engineering", 6, 5) + cohort("science", 7, 1))
    [row] = compare(a, a="engineering", b="science", filters={"app": "matlab"})
    assert row["test"] == "fisher_exact"
    assert row["p_value"] == pytest.approx(fisher_exact([[5, 1], [1, 6]]).pvalue)
    assert "small cells" in row["warning"]


def test_every_app_ranked_with_q_values(
    analytics_of: Callable[[list[Session]], Analytics],
) -> None:
    sessions = (cohort("engineering", 20, 16) + cohort("science", 20, 4)
                + [ran(f"eng{i:02d}", "stata", "engineering", pid=3, hour=2) for i in range(10)]
                + [ran(f"sci{i:02d}", "stata", "science", pid=3, hour=2) for i in range(9)])  # fmt: skip
    rows = compare(analytics_of(sessions), a="engineering", b="science")
    assert [r["app"] for r in rows] == ["matlab", "stata", "firefox"]  # |difference| first
    assert [r["difference"] for r in rows] == pytest.approx([0.6, 0.05, 0.0])
    q = multipletests([r["p_value"] for r in rows], method="fdr_bh")[1]
    assert [r["q_value"] for r in rows] == pytest.approx(list(q))
    assert all(r["a_hours_per_active_user"] is None for r in rows)  # with `app` only


def test_a_cohort_without_active_users_has_no_share(
    analytics_of: Callable[[list[Session]], Analytics],
) -> None:
    a = analytics_of(cohort("engineering", 10, 8))
    [row] = compare(a, a="engineering", b="law", filters={"app": "matlab"})
    assert (row["b_active_users"], row["b_share"], row["p_value"], row["test"]) == (
        0, None, None, None)  # fmt: skip
    assert "cohort b has no active users" in row["warning"]
    with pytest.raises(FilterError, match="another cohort"):
        compare(a, a="law", b="LAW", filters={"app": "matlab"})


# ---------------------------------------------------------------------- the directory

# Three law students, two of them on engineering machines; an engineering staff member on a
# law machine; a user the directory does not know on a law machine. Written as snapshots
# through the real writer, which builds both the rollups (cohort=host) and sessions.
USES = [("ann", "engineering", "matlab"), ("bob", "engineering", "matlab"),
        ("cid", "law", "westlaw"), ("dan", "law", "westlaw"), ("eve", "law", "firefox")]
MEMBERS = [Member("ann", "Law"), Member("bob", "law school"), Member("cid", "law"),
           Member("dan", "engineering", role="staff")]  # fmt: skip


def snapshots(uses: list[tuple[str, str, str]], at: datetime) -> list[ProcessedSnapshot]:
    """One snapshot per use, on the user's own machine of that faculty, at ``at``."""
    out = []
    for user, faculty, app in uses:
        host = f"{faculty}-{user}"
        snap = Snapshot(snapshot_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{host}/{at.isoformat()}"),
                        host=host, os="linux", user=user, faculty=faculty, collected_at=at,
                        received_at=at, command="ps", output="(generated)", interval_s=60)
        procs = [ProcessRecord(pid=7, user=user, name=app, app=app, is_system=False)]
        out.append(ProcessedSnapshot(snap, "stored", format="generated", processes=procs))
    return out


@pytest.fixture
def write(database_url: str, analytics_of: Callable[[list[Session]], Analytics]
          ) -> Callable[[list[ProcessedSnapshot]], Analytics]:  # fmt: skip
    def run(items: list[ProcessedSnapshot]) -> Analytics:
        with psycopg.connect(database_url, autocommit=True) as conn:
            SnapshotWriter(PartitionManager()).write(conn, items)
        return analytics_of([])

    return run


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    db = Database(database_url, pool_size=1)
    db.open()
    d = Directory(db)
    d.add_faculty("law", "Faculty of Law")
    d.add_faculty("engineering")
    d.add_alias("Law School", "law")
    yield d
    db.pool.close()


def top(analytics: Analytics, cohort: str, faculty: str) -> dict[str, tuple]:
    q = BY_NAME["top-apps"]
    f = Filters.model_validate({**WEEK, "faculty": faculty})
    items = q.ask(analytics, f, q.params.model_validate({"cohort": cohort})).items
    return {i["app"]: (i["users"], i["active_users"], i["share_users"]) for i in items}


def test_cohort_user_and_cohort_host_answer_differently(
    write: Callable[[list[ProcessedSnapshot]], Analytics], directory: Directory,
) -> None:
    a = write(snapshots(USES, D))
    directory.import_members(MEMBERS, as_of=D - timedelta(days=30))
    # The machines' faculty: law machines ran westlaw (cid, dan) and firefox (eve).
    assert top(a, "host", "law") == {"westlaw": (2, 3, 2 / 3), "firefox": (1, 3, 1 / 3)}
    # The users' faculty: ann and bob (law students, on engineering machines), cid.
    assert top(a, "user", "law") == {"matlab": (2, 3, 2 / 3), "westlaw": (1, 3, 1 / 3)}
    assert top(a, "user", "engineering") == {"westlaw": (1, 1, 1.0)}  # dan, staff


def test_coverage_counts_the_hosts_of_the_cohort_the_answer_counts(
    write: Callable[[list[ProcessedSnapshot]], Analytics], directory: Directory, dream: Dream,
) -> None:
    """Under cohort=user a faculty is the users': the hosts that reported are those their
    snapshots came from (dan's law machine for engineering), not the faculty's machines (ann's
    and bob's), which made an answer show hours beside "no host reported". Whole days too:
    host_days has no user, so the snapshots are read."""
    a = write(snapshots(USES, D))
    directory.import_members(MEMBERS, as_of=D - timedelta(days=30))
    for window in (WEEK, {"from": D.replace(hour=0), "to": D.replace(hour=0) + timedelta(days=2)}):
        f = Filters.model_validate({**window, "faculty": "engineering"})
        assert a.coverage(f, "host") == {"hosts": 2, "median_cadence_s": 60.0}  # ann's, bob's
        assert a.coverage(f, "user") == {"hosts": 1, "median_cadence_s": 60.0}  # dan's
        law = Filters.model_validate({**window, "faculty": ["law", "engineering"]})
        assert a.coverage(law, "user")["hosts"] == 4  # ann, bob, cid, dan: eve is unknown
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:  # as asked
        for cohort, hosts in (("user", 1), ("host", 2)):
            answer = client.get("/v1/analytics/top-apps", params={
                "cohort": cohort, "faculty": "engineering", "from": WEEK["from"].isoformat(),
                "to": WEEK["to"].isoformat()}).json()  # fmt: skip
            assert answer["coverage"]["hosts"] == hosts, answer


def test_breakdown_by_the_users_faculty(
    write: Callable[[list[ProcessedSnapshot]], Analytics], directory: Directory,
) -> None:
    a = write(snapshots(USES, D))
    directory.import_members(MEMBERS, as_of=D - timedelta(days=30))
    q, f = BY_NAME["breakdown"], Filters.model_validate(WEEK)

    def by_faculty(cohort: str) -> dict[str, tuple]:
        p = q.params.model_validate({"by": "faculty", "cohort": cohort, "metric": "hours"})
        return {i["faculty"]: (i["users"], i["active_users"], round(i["hours"] * 60))
                for i in q.ask(a, f, p).items}  # fmt: skip

    # One minute of use each (one sample at a 60 s cadence).
    assert by_faculty("host") == {"law": (3, 3, 3), "engineering": (2, 2, 2)}
    assert by_faculty("user") == {"law": (3, 3, 3), "engineering": (1, 1, 1)}  # eve: unknown
    with pytest.raises(FilterError, match="cohort=user breaks down by faculty, os or app"):
        q.ask(a, f, q.params.model_validate({"by": "host", "cohort": "user"}))


def test_usage_shares_per_day_and_faculty(
    write: Callable[[list[ProcessedSnapshot]], Analytics],
) -> None:
    """Day 1: 8 of 10 engineering users and 2 of 10 science users ran MATLAB, every one of
    them ran firefox; day 2: two of the engineers only, the day's only active users."""
    eng, sci = [f"eng{i}" for i in range(10)], [f"sci{i}" for i in range(10)]
    for at, users in ((D, eng + sci), (D + timedelta(days=1), eng[:2])):
        browsing = [(u, "engineering" if u in eng else "science", "firefox") for u in users]
        write(snapshots(browsing, at))
    matlab = [(u, "engineering", "matlab") for u in eng[:8]] + [(u, "science", "matlab")
                                                                for u in sci[:2]]  # fmt: skip
    write(snapshots(matlab, D + timedelta(hours=1)))
    a = write(snapshots(matlab[:2], D + timedelta(days=1, hours=1)))
    q = BY_NAME["usage"]
    f = Filters.model_validate({**WEEK, "app": "matlab"})
    items = q.ask(a, f, q.params.model_validate({"group_by": "faculty"})).items
    day = D.replace(hour=0)
    assert [(i["group"], i["bucket"], i["users"], i["active_users"], i["share_users"])
            for i in items] == [("engineering", day, 8, 10, 0.8),
                                ("engineering", day + timedelta(days=1), 2, 2, 1.0),
                                ("science", day, 2, 10, 0.2)]  # fmt: skip
    whole = q.ask(a, f, q.params.model_validate({})).items
    assert [(i["users"], i["active_users"]) for i in whole] == [(10, 20), (2, 2)]
    per_user = q.ask(a, f, q.params.model_validate({"group_by": "user"})).items
    assert {(i["active_users"], i["share_users"]) for i in per_user} == {(None, None)}


def test_membership_as_of_the_time_of_use(
    write: Callable[[list[ProcessedSnapshot]], Analytics], directory: Directory,
) -> None:
    a = write(snapshots(USES, D))
    directory.import_members(MEMBERS, as_of=D - timedelta(days=30))
    # From noon ann belongs to engineering, cid has left: their use that morning stays law's.
    later = [Member("ann", "engineering"), Member("bob", "law"),
             Member("dan", "engineering", role="staff")]
    result = directory.import_members(later, as_of=D + timedelta(hours=3))
    assert (result.opened, result.closed) == (1, 2)  # ann's new one; ann's and cid's ended
    assert top(a, "user", "law") == {"matlab": (2, 3, 2 / 3), "westlaw": (1, 3, 1 / 3)}
    b = write(snapshots([("ann", "engineering", "matlab"), ("cid", "law", "westlaw")],
                        D + timedelta(hours=5)))  # fmt: skip
    q = BY_NAME["top-apps"]
    f = Filters.model_validate({"from": D + timedelta(hours=4), "to": D + timedelta(hours=8),
                                "faculty": "engineering"})  # fmt: skip
    items = q.ask(b, f, q.params.model_validate({"cohort": "user"})).items
    assert {i["app"]: i["users"] for i in items} == {"matlab": 1}  # ann, not cid (no membership)


def test_unknown_faculty_refused_with_the_closest(directory: Directory) -> None:
    with pytest.raises(DirectoryError, match=r"unknown faculty 'laww'; closest known: law"):
        directory.import_members([Member("ann", "laww")], as_of=D)
    with pytest.raises(DirectoryError, match="unknown faculty 'science'"):
        directory.add_alias("sci", "science")
    result = directory.import_members([Member("ann", "science")], as_of=D, add_faculties=True)
    assert result.opened == 1
    directory.import_members([Member("ann", "law")], as_of=D + timedelta(hours=1))
    with pytest.raises(DirectoryError, match="must be later than the last"):
        directory.import_members([Member("ann", "science")], as_of=D)
