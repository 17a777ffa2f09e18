"""``dream directory import|faculty``: the user directory (who belongs to which faculty,
programme, role and year) and the managed list of faculties, straight in the database.

User names are pseudonymized with the same key as ingest (DREAM_PII_KEY or the data
directory's), account part only, so a directory row meets the sessions of its user.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dream.app import Dream
from dream.cli.output import err, fail, out
from dream.cli.wiring import dream_for
from dream.storage.directory import Directory, DirectoryError, Member

directory_app = typer.Typer(no_args_is_help=True,
                            help="The user directory and the list of faculties.")  # fmt: skip
faculty_app = typer.Typer(no_args_is_help=True, help="The managed list of faculties.")
directory_app.add_typer(faculty_app, name="faculty")

# The file's header: user and faculty required; role defaults to student.
COLUMNS = ("user", "faculty", "programme", "role", "year")


def _dream() -> Dream:
    dream = dream_for("dream-directory", log_level="warning").open(analytics=False)
    dream.migrate()
    return dream


def read_members(path: Path, account: Callable[[str], str | None] | None = None) -> list[Member]:
    """The rows of a directory CSV as members, ``account`` pseudonymizing each user name;
    a clear error naming the line for a missing column, a bad year or a user listed twice."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"user", "faculty"} - set(reader.fieldnames or ())
        if missing:
            raise fail(f"{path}: the header must name {', '.join(sorted(missing))}"
                       f" (columns: {', '.join(COLUMNS)})", code=2)  # fmt: skip
        members: list[Member] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            user = (row.get("user") or "").strip().rpartition("\\")[2]
            if not user or not (row.get("faculty") or "").strip():
                raise fail(f"{path}:{line}: user and faculty are required", code=2)
            if user.lower() in seen:
                raise fail(f"{path}:{line}: user {user!r} is listed twice (line"
                           f" {seen[user.lower()]} too)", code=2)  # fmt: skip
            seen[user.lower()] = line
            year = (row.get("year") or "").strip()
            if year and not year.isdigit():
                raise fail(f"{path}:{line}: year {year!r} is not a whole number", code=2)
            members.append(Member(account=(account(user) if account else None) or user,
                                  faculty=row["faculty"], programme=row.get("programme") or "",
                                  role=(row.get("role") or "student").strip().lower(),
                                  year=int(year) if year else None))  # fmt: skip
    return members


@directory_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="CSV: user,faculty,programme,role,year.")],
    as_of: Annotated[datetime | None, typer.Option(
        help="When the file's memberships began (default now, UTC).")] = None,
    partial: Annotated[bool, typer.Option(
        help="The file lists some users only: do not end the memberships of those absent.")
    ] = False,
    add_faculties: Annotated[bool, typer.Option(
        help="Add faculties not on the list (else they are refused).")] = False,
) -> None:  # fmt: skip
    """Sync the directory to FILE: changed users get a new membership from --as-of, users
    absent from a full file have theirs ended, users new to the directory are attributed all
    their use so far."""
    moment = as_of or datetime.now(UTC)
    if moment.tzinfo is None:  # a time naming no zone is UTC
        moment = moment.replace(tzinfo=UTC)
    dream = _dream()
    try:
        members = read_members(file, dream.scrubber.user)
        result = Directory(dream.db).import_members(members, as_of=moment, full=not partial,
                                                    add_faculties=add_faculties)  # fmt: skip
    except DirectoryError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        dream.close()
    out.print(f"{result.listed} users: {result.opened} memberships started, {result.closed}"
              f" ended (as of {moment.isoformat()})", highlight=False)  # fmt: skip


@faculty_app.command("add")
def faculty_add(
    faculty: Annotated[str, typer.Argument(help="As stored and asked for, e.g. law.")],
    name: Annotated[str, typer.Option(help="How people write it.")] = "",
) -> None:
    """Put FACULTY on the managed list."""
    dream = _dream()
    try:
        Directory(dream.db).add_faculty(faculty, name)
    finally:
        dream.close()
    out.print(f"faculty {faculty.strip().lower()}", highlight=False)


@faculty_app.command("alias")
def faculty_alias(
    alias: Annotated[str, typer.Argument(help='Another spelling, e.g. "Law School".')],
    faculty: Annotated[str, typer.Argument(help="The listed faculty it means.")],
) -> None:
    """Make ALIAS mean FACULTY wherever a faculty is given."""
    dream = _dream()
    try:
        Directory(dream.db).add_alias(alias, faculty)
    except DirectoryError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        dream.close()
    out.print(f"{alias.strip().lower()} → {faculty.strip().lower()}", highlight=False)


@faculty_app.command("list")
def faculty_list() -> None:
    """The faculties and their aliases."""
    dream = _dream()
    try:
        rows = Directory(dream.db).faculties()
    finally:
        dream.close()
    table = Table("faculty", "name", "aliases")
    for r in rows:
        table.add_row(r["faculty"], r["name"], ", ".join(r["aliases"]))
    out.print(table)
