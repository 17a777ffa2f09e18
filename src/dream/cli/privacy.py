"""``dream erase`` and ``dream optout add|remove|list``: erasure and opt-out on the server,
straight in the database and the blob store (as ``dream keys`` works), like
``DELETE /v1/users/{user}`` and ``/v1/optouts``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from dream.cli.output import out

from dream.app import Dream
from dream.blobs.erasure import erase_user
from dream.cli.wiring import dream_for
from dream.security.optout import Kind, OptOuts

optout_app = typer.Typer(no_args_is_help=True,
                         help="Users and hosts whose snapshots ingest keeps nothing of.")  # fmt: skip
UserOption = Annotated[str | None, typer.Option(help="A user name (or its pseudonym).")]
HostOption = Annotated[str | None, typer.Option(help="A host name.")]


@contextmanager
def _dream() -> Iterator[Dream]:
    dream = dream_for("dream-privacy", log_level="warning").open(analytics=False)
    try:
        dream.migrate()
        yield dream
    finally:
        dream.close()


def erase(user: Annotated[str, typer.Option(help="A user name as their machines report it, or"
                                                  " its pseudonym.")]) -> None:  # fmt: skip
    """Erase everything stored about a user (rows, then raw outputs); again to resume."""
    with _dream() as dream:
        for pseudonym in dream.scrubber.every_epoch(user):  # one erasure per epoch's pseudonym
            done = erase_user(dream.db, dream.raw_outputs, pseudonym)
            print(json.dumps({"id": done.id, "user": done.user_name, "state": done.state,
                              "removed": done.removed, "blobs_left": len(done.blobs)}))  # fmt: skip


def _target(user: str | None, host: str | None) -> tuple[Kind, str]:
    if (user is None) == (host is None):
        raise typer.BadParameter("give exactly one of --user and --host", param_hint="--user")
    return ("user", user) if user is not None else ("host", host)  # type: ignore[return-value]


def _change(user: str | None, host: str | None, *, add: bool) -> None:
    kind, value = _target(user, host)
    with _dream() as dream:
        optouts = OptOuts(dream.db, dream.scrubber.stable)
        kept = optouts.add(kind, value) if add else optouts.remove(kind, value)
    out.print(f"{'opted out' if add else 'opted in again'}: {kind} {kept}", highlight=False)


@optout_app.command("add")
def add(user: UserOption = None, host: HostOption = None) -> None:
    """Opt a user or a host out: their snapshots are dropped unkept from now on."""
    _change(user, host, add=True)


@optout_app.command("remove")
def remove(user: UserOption = None, host: HostOption = None) -> None:
    """Take an opt-out back: their snapshots are kept again from now on."""
    _change(user, host, add=False)


@optout_app.command("list")
def list_optouts() -> None:
    """The opt-outs: users by pseudonym, hosts by name."""
    with _dream() as dream:
        rows = OptOuts(dream.db, dream.scrubber.stable).list()
    for r in rows:
        print(f"{r['kind']}\t{r['value']}\t{r['added_at']:%Y-%m-%d %H:%M}")
