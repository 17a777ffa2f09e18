"""The process row is defined once, by ProcessRecord: the SQL that must stay literal selects
exactly its fields, and the writer stores every one of them under the table's names."""

from __future__ import annotations

import re

import psycopg

from dream.parsing.model import PROCESS_COLUMNS, PROCESS_FIELDS
from dream.snapshots import PROCESS_ROW_COLUMNS
from dream.storage.queries import load_named_queries
from dream.storage.writer import TABLE_COLUMNS
from dream.web.schemas import ProcessRow


def selected(package: str, name: str) -> list[str]:
    """The names a named query's outer SELECT list answers with (its aliases where given)."""
    text = load_named_queries(package)[name]
    select_list = re.search(r"^SELECT (.*?)\nFROM", text, re.DOTALL | re.MULTILINE)
    assert select_list is not None, f"{name} has no SELECT ... FROM"
    names = []
    for item in select_list.group(1).split(","):
        item = item.strip()
        alias = re.search(r'\bAS "?(\w+)"?$', item)
        names.append(alias.group(1) if alias else item.rsplit(".", 1)[-1])
    return names


def test_a_snapshots_process_rows_select_the_records_fields() -> None:
    assert selected("dream.storage", "snapshot_processes") == list(PROCESS_FIELDS)


def test_the_processes_page_selects_the_stored_row() -> None:
    names = selected("dream.analytics", "processes_page")
    names.remove("row_id")  # the keyset cursor's position, not a column of the row
    assert names == list(PROCESS_ROW_COLUMNS)


def test_the_rollups_old_rows_are_record_fields() -> None:
    assert set(selected("dream.blobs", "reprocess_old_rows")) <= set(PROCESS_FIELDS)


def test_the_response_model_has_the_records_fields() -> None:
    assert tuple(ProcessRow.model_fields) == PROCESS_FIELDS
    assert all(f.is_required() for f in ProcessRow.model_fields.values())


def test_the_writer_fills_every_column_of_the_table(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        table = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'processes'"
        )}  # fmt: skip
    assert set(TABLE_COLUMNS) == table
    assert set(PROCESS_COLUMNS) < table
