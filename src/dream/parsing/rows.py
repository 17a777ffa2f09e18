"""What the ps, ps-column and tasklist parsers share: the per-parse memo of derived values
(``RowBuilder``), the shape of a C row loop, and the end-of-parse check."""

from __future__ import annotations

from collections.abc import Callable

from dream.errors import ParseError
from dream.parsing.apps import describe_command, is_system_user
from dream.parsing.model import ProcessRecord
from dream.parsing.values import duration_seconds

# A C row loop: (lines, first line, records to append to) -> index of the line it stopped at.
FastRows = Callable[[list[str], int, list[ProcessRecord]], int]
NO_TTY = frozenset({"?", "??", "-"})


class RowBuilder:
    """Per-parse memo of what is derived from a command or user (app, system flag, interned text).

    Listings repeat commands (dozens of ``chrome`` renderers) and users, so deriving each once
    and sharing the strings keeps the hot loops fast and the output small.
    """

    __slots__ = ("os", "commands", "users", "times", "texts")

    def __init__(self, os: str | None) -> None:
        self.os = os
        self.commands: dict[str, tuple[str, str, bool]] = {}
        self.users: dict[str, tuple[str, bool]] = {}
        self.times: dict[str, float | None] = {}
        self.texts: dict[str, str] = {}

    def hot_loop(self) -> tuple[dict, dict, dict, Callable, Callable, Callable, Callable]:
        """What a row loop binds to locals: the memo dicts (hit directly), the functions that
        fill them on a miss, and the interning of short texts."""
        return (self.commands, self.users, self.times, self.command, self.user, self.time,
                self.texts.setdefault)

    def command(self, command: str) -> tuple[str, str, bool]:
        info = self.commands.get(command)
        if info is None:
            info = self.commands[command] = describe_command(command)
        return info

    def user(self, user: str) -> tuple[str, bool]:
        info = self.users.get(user)
        if info is None:
            info = self.users[user] = (user, is_system_user(user, self.os))
        return info

    def time(self, text: str) -> float | None:
        try:
            return self.times[text]
        except KeyError:
            value = self.times[text] = duration_seconds(text)
            return value


def finish(records: list[ProcessRecord], warnings: list[str], first_bad: int | None,
            what: str) -> list[ProcessRecord]:
    if not records:
        if first_bad is not None:
            raise ParseError(f"no {what} row could be parsed", line=first_bad)
        raise ParseError(f"{what} header found but no process rows follow")
    return records
