"""Type stub of the C accelerator in _speedups.c (each ``*_rows`` returns where it stopped)."""

from collections.abc import Callable

from dream.parsing.model import ProcessRecord

def configure(record_type: type[ProcessRecord], field_names: tuple[str, ...], /) -> None: ...
def aux_rows(
    lines: list[str], pos: int, out: list[ProcessRecord],
    user: Callable[[str], tuple[str, bool]], intern: Callable[[str, str], str],
    time: Callable[[str], float | None], command: Callable[[str], tuple[str, str, bool]],
    executable: Callable[[str], tuple[str, str, bool]], /,
) -> int: ...
def ef_rows(
    lines: list[str], pos: int, out: list[ProcessRecord],
    user: Callable[[str], tuple[str, bool]], intern: Callable[[str, str], str],
    time: Callable[[str], float | None], command: Callable[[str], tuple[str, str, bool]],
    executable: Callable[[str], tuple[str, str, bool]], /,
) -> int: ...
def tasklist_rows(
    lines: list[str], pos: int, out: list[ProcessRecord], bounds: tuple[tuple[int, int], ...],
    index: tuple[int, ...], image: Callable[[str], tuple[str | None, str | None, bool]],
    session_name: Callable[[str], tuple[str, bool]], status: Callable[[str, str], str],
    user: Callable[[str], tuple[str | None, bool]], time: Callable[[str], float | None],
    title: Callable[[str], str | None], /,
) -> int: ...
