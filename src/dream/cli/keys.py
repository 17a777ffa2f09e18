"""``dream keys create|list|revoke``: API keys, straight in the database."""

from __future__ import annotations

from typing import Annotated, cast

import typer
from dream.cli.output import out
from rich.table import Column, Table

from dream.app import Dream
from dream.cli.wiring import dream_for
from dream.security.keys import ROLES, Role

keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")


def _dream() -> Dream:
    dream = dream_for("dream-keys", log_level="warning").open(analytics=False)
    dream.migrate()
    return dream


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))],
    dp_epsilon: Annotated[float | None, typer.Option(
        min=0.001, max=10, help="Differential privacy (`query` keys): each answer is noised and"
        " spends this epsilon.")] = None,
    dp_budget: Annotated[float | None, typer.Option(
        min=0.001, help="The epsilon a DP key may spend a month (default 100 answers' worth).")
    ] = None,
) -> None:  # fmt: skip
    """Create a key and print its secret (shown this once)."""
    if role not in ROLES:
        raise typer.BadParameter(f"expected one of {', '.join(ROLES)}", param_hint="--role")
    dream = _dream()
    try:
        issued = dream.keys.create(name, cast(Role, role), dp_epsilon=dp_epsilon,
                                   dp_budget=dp_budget)  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dp-epsilon") from None
    finally:
        dream.close()
    out.print(f"[bold]{issued.key_id}[/bold] ({issued.role}) — the secret, shown once:",
              highlight=False)  # fmt: skip
    print(issued.secret)


@keys_app.command("list")
def list_keys() -> None:
    """List keys (never their secrets)."""
    dream = _dream()
    try:
        rows = dream.keys.list()
    finally:
        dream.close()
    # The id is what `keys revoke` takes: never folded or cut, whatever the terminal's width.
    table = Table(Column("id", no_wrap=True, min_width=12), "name", "role", "created", "last used",
                  "revoked", "DP ε / month")
    for r in rows:
        dp = f"{r['dp_epsilon']:g} / {r['dp_budget']:g}" if r["dp_epsilon"] is not None else ""
        table.add_row(r["key_id"], r["name"], r["role"], f"{r['created_at']:%Y-%m-%d %H:%M}",
                      f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "",
                      f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "", dp)  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (12 hex digits).")]) -> None:
    """Revoke a key: it is refused from then on."""
    dream = _dream()
    try:
        revoked = dream.keys.revoke(key_id)
    finally:
        dream.close()
    if not revoked:
        out.print(f"[red]no active key {key_id}[/red]")
        raise typer.Exit(1)
    out.print(f"revoked {key_id}")
