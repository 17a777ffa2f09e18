"""The lists ingest checks (storage/cached.py) against a real PostgreSQL: of two reads under
way, the one started last is kept, so an earlier read ending after it cannot bring back a list
older than a change made before it (an opt-out taken through this replica applies at once)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from dream.storage.cached import CachedList
from dream.storage.database import Database
from dream.storage.directory import Directory
from dream.storage.queries import NamedQueries


def test_an_earlier_read_ending_last_does_not_replace_a_later_one(database_url: str) -> None:
    db = Database(database_url)
    db.open()
    built, release = threading.Event(), threading.Event()

    def build(rows: Sequence[Any]) -> dict[str, str]:
        if threading.current_thread().name == "earlier":  # its rows are read: hold it there
            built.set()
            release.wait(30)
        return dict(rows)

    names = CachedList(db, NamedQueries("dream.storage", "directory.sql").query("faculty_names"),
                       build, what="the managed faculties", ttl_s=60)  # fmt: skip
    earlier = threading.Thread(target=names.read, name="earlier")
    try:
        earlier.start()
        assert built.wait(30), "the earlier read did not get its rows"
        Directory(db).add_faculty("law")
        names.read()  # started after the change: it sees it
        assert names.value == {"law": "law"}
        release.set()
        earlier.join(30)
        assert names.value == {"law": "law"}  # the earlier read's empty list is not kept
    finally:
        release.set()
        db.close()
