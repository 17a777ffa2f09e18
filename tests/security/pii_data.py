"""A listing full of personal data and secrets, and a scan for them in the database."""

from __future__ import annotations

import psycopg
import psycopg.sql

SECRET_LISTING = (
    "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
    "root           1  0.0  0.1 167744 11660 ?        Ss   Nov27   0:05 /sbin/init\n"
    "jdoe        4242  3.1  2.0 912344 81234 pts/0    Sl+  09:12   1:02 python3 "
    "/home/jdoe/thesis/fit.py --token=tk_9f8e7d6c5b --notify jane.doe@uni.example.edu\n"
    "jdoe        4243  0.5  0.3 212344 21234 pts/1    S    09:13   0:02 git pull "
    "https://jdoe:hunter2pass@git.example.edu/lab/repo.git\n"
    "jdoe        4244  0.1  0.1  12344  1234 pts/1    S    09:14   0:00 ssh 192.168.77.13\n"
)
SECRETS = ["jdoe", "tk_9f8e7d6c5b", "jane.doe@uni.example.edu", "hunter2pass", "192.168.77.13"]


def text_values(url: str) -> list[str]:
    """Every value of every text-like column of every table Dream owns."""
    found: list[str] = []
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
            " AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
        ).fetchall()
        for table, column in columns:
            rows = conn.execute(
                psycopg.sql.SQL("SELECT {}::text FROM {} WHERE {} IS NOT NULL").format(
                    psycopg.sql.Identifier(column), psycopg.sql.Identifier(table),
                    psycopg.sql.Identifier(column),
                )  # fmt: skip
            )
            found += [f"{table}.{column}={r[0]}" for r in rows]
    return found
