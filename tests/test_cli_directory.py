"""`dream directory`: the CSV import pseudonymizes users with the ingest key, refuses a bad file
naming its line, and faculties and aliases are managed from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from dream.security.pii import Scrubber

KEY = "a directory test key"


def dream(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DREAM_DATABASE_URL": database_url, "DREAM_PII_KEY": KEY,
           "DREAM_DATA_DIR": str(tmp_path)}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "dream", "directory", *args],
                          capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    done.stderr = " ".join(done.stderr.split())  # as one line, however the console wrapped it
    return done


def test_import_pseudonymizes_and_refuses_bad_rows(database_url: str, tmp_path: Path) -> None:
    assert dream(database_url, tmp_path, "faculty", "add", "law").returncode == 0
    done = dream(database_url, tmp_path, "faculty", "alias", "Law School", "law")
    assert done.returncode == 0, done.stderr

    bad = tmp_path / "bad.csv"
    bad.write_text("user,faculty\nalice,law\nALICE,law\n")
    done = dream(database_url, tmp_path, "import", str(bad))
    assert done.returncode == 2 and "bad.csv:3: user 'ALICE' is listed twice" in done.stderr

    typo = tmp_path / "typo.csv"
    typo.write_text("user,faculty\nalice,laww\n")
    done = dream(database_url, tmp_path, "import", str(typo))
    assert done.returncode == 1 and "closest known: law" in done.stderr, done.stderr

    users = tmp_path / "users.csv"
    users.write_text("user,faculty,programme,role,year\nUNI\\alice,Law School,LLB,student,2\n"
                     "bob,engineering,,staff,\n")  # fmt: skip
    done = dream(database_url, tmp_path, "import", str(users), "--add-faculties")
    assert done.returncode == 0, done.stderr
    assert "2 users: 2 memberships started, 0 ended" in done.stdout

    scrub = Scrubber("pseudonymize", KEY.encode())
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT account, faculty, programme, role, year, valid_to"
                            " FROM directory_members ORDER BY faculty").fetchall()  # fmt: skip
    assert rows == [(scrub.user("bob"), "engineering", "", "staff", None, None),
                    (scrub.user("alice"), "law", "LLB", "student", 2, None)]  # fmt: skip
    assert scrub.user("alice") != "alice"
