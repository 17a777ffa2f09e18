"""Who a snapshot's user is: the person using the machine, never the collector's own account.

A collector installed as documented runs as root, SYSTEM (``PC$`` on the network) or a service
account, and used to send that account as the snapshot's ``user``: every lab machine's snapshots
were "root", so "users" in every answer counted machines. The one rule, applied by the worker to
every parsed snapshot (docs/analytics.md, "Who is a user"):

1. the listing names owners (``ps``, ``top``, ``tasklist /v``, ``Get-Process
   -IncludeUserName``): the owner of the non-system processes (the most of them; the sent user
   when it is one of the owners, as a session's interactive user is), or ``(nobody)`` when
   only system accounts own processes (the machine idles at its login window);
2. it names none (``tasklist`` without ``/v``, ``Get-Process`` without owners): the sent user,
   which the agent takes from the machine's interactive sessions;
3. that sent user is a service account: ``(unknown)``, never the account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from dream.parsing.apps import is_system_user
from dream.parsing.model import ProcessRecord

NOBODY = "(nobody)"  # the agent's word for a machine nobody is logged on to
UNKNOWN = "(unknown)"  # a service account sent a listing without owners: who used it is unknown

# Windows' service accounts as `whoami`/getpass spell them without the "NT AUTHORITY\" domain.
_WINDOWS_SERVICE_NAMES = frozenset(
    {
        "system",
        "localsystem",
        "local service",
        "localservice",
        "network service",
        "networkservice",
        "lokaler dienst",
        "netzwerkdienst",
        "service local",
        "service réseau",
    }
)


def is_service_account(user: str, os: str | None = None) -> bool:
    """Whether ``user`` is an account the OS or a collector runs as, not a person: root and
    daemons, ``NT AUTHORITY\\…``, SYSTEM, a machine account (``PC$``), Local/Network Service."""
    name = user.strip()
    if not name or name.endswith("$") or is_system_user(name, os):
        return True
    return name.rsplit("\\", 1)[-1].casefold() in _WINDOWS_SERVICE_NAMES


def _account(user: str) -> str:
    """``DOMAIN\\alice`` and ``alice`` name one person (Windows names ignore case)."""
    return user.rsplit("\\", 1)[-1].casefold()


def snapshot_user(sent: str, os: str | None, processes: Sequence[ProcessRecord]) -> str:
    """The user a snapshot counts for (rules in the module's docstring)."""
    owners = Counter(p.user for p in processes if p.user is not None and not p.is_system)
    owned = bool(owners) or any(p.user is not None for p in processes)
    people = {owner: n for owner, n in owners.items() if not is_service_account(owner, os)}
    sent_is_person = not is_service_account(sent, os) and sent not in (NOBODY, UNKNOWN)
    if people:
        mine = [owner for owner in people if sent_is_person and _account(owner) == _account(sent)]
        return min(mine or people, key=lambda owner: (-people[owner], owner))
    if owned:
        return NOBODY
    return sent if sent_is_person or sent in (NOBODY, UNKNOWN) else UNKNOWN
