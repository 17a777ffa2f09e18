"""The PII scrubber on the kinds of command lines lab machines really run."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dream.parsing import parse
from dream.security.pii import Scrubber, scrub_text, scrub_title


@pytest.mark.parametrize(
    ("raw", "gone", "kept"),
    [
        ("python3 /home/jdoe/thesis/run.py --token=abc123 --verbose", ["jdoe", "abc123"],
         ["python3", "/home/[user]/thesis/run.py", "--token=[secret]", "--verbose"]),
        ("mysql -u app --password hunter2 -h 10.20.30.40 grades", ["hunter2", "10.20.30.40"],
         ["--password [secret]", "[ip]", "grades"]),
        ("git clone https://jdoe:ghp_s3cr3t@git.example.edu/lab/repo.git", ["jdoe", "ghp_s3cr3t"],
         ["https://[credentials]@git.example.edu/lab/repo.git"]),
        ('curl -H "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig" https://api.example.edu',
         ["eyJhbGciOiJIUzI1NiJ9"], ["Bearer [token]", "https://api.example.edu"]),
        ("thunderbird -compose to=jane.doe@uni.example.edu", ["jane.doe@uni.example.edu"],
         ["thunderbird", "[email]"]),
        ("ssh -6 2001:db8::8a2e:370:7334 ping fe80::1%eth0", ["2001:db8", "fe80::1"], ["[ip]"]),
        (r'"C:\Users\jdoe\AppData\Local\Programs\Zoom\Zoom.exe" --url=https://x?pwd=AbCd',
         ["jdoe", "AbCd"], [r"C:\Users\[user]\AppData", "pwd=[secret]"]),
        ("/Users/ann/Applications/R.app/Contents/MacOS/R --secret-file=/tmp/k", ["ann", "/tmp/k"],
         ["/Users/[user]/Applications"]),
        ("env API_KEY=xyz987 DB_PASSWORD='two words' ./serve", ["xyz987", "two words"],
         ["API_KEY=[secret]", "DB_PASSWORD=[secret]", "./serve"]),
    ],
)
def test_personal_and_secret_parts_are_removed(raw: str, gone: list[str], kept: list[str]) -> None:
    scrubbed = scrub_text(raw)
    assert scrubbed is not None
    for fragment in gone:
        assert fragment not in scrubbed, scrubbed
    for fragment in kept:
        assert fragment in scrubbed, scrubbed


@pytest.mark.parametrize(
    "harmless",
    [
        "python3 compute_token_stats.py data.csv",  # a word containing "token" is not a secret
        "/usr/bin/gnome-shell --mode=user",
        "top -d 10:40:12",  # times are not IPv6 addresses
        "ip link set aa:bb:cc:dd:ee:ff",
        r"C:\Users\Public\Desktop\shortcut.lnk",
    ],
)
def test_ordinary_command_lines_are_left_alone(harmless: str) -> None:
    assert scrub_text(harmless) == harmless


def test_usernames_get_a_stable_keyed_pseudonym() -> None:
    one = Scrubber("pseudonymize", b"key-one")
    two = Scrubber("pseudonymize", b"key-two")
    assert one.user("jdoe") == one.user("JDoe") == one.user(" jdoe ")
    assert one.user("jdoe") != one.user("asmith")
    assert one.user("jdoe") != two.user("jdoe")  # the key matters: no rainbow tables
    assert re.fullmatch(r"u_[0-9a-f]{20}", one.user("jdoe") or "")
    # Windows accounts keep their machine or domain, the person is pseudonymized the same way.
    assert one.user("LAW-PC-17\\jdoe") == f"LAW-PC-17\\{one.user('jdoe')}"
    for system in ("root", "NT AUTHORITY\\SYSTEM", "NT AUTHORITY\\LOCAL SERVICE", "_windowserver",
                   "messagebus", None):  # fmt: skip
        assert one.user(system) == system
    # A pseudonym (as /v1/users lists them) is never pseudonymized again.
    assert one.user(one.user("jdoe")) == one.user("jdoe")
    assert one.user(f"LAW-PC-17\\{one.user('jdoe')}") == f"LAW-PC-17\\{one.user('jdoe')}"
    assert Scrubber("redact").user("jdoe") == "[user]"
    assert Scrubber("off").user("jdoe") == "jdoe"
    with pytest.raises(ValueError, match="key"):
        Scrubber("pseudonymize", None)


def test_scrubbing_a_parsed_listing_in_place() -> None:
    listing = (
        "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
        "root           1  0.0  0.1 167744 11660 ?        Ss   Nov27   0:05 /sbin/init\n"
        "jdoe        4242  3.1  2.0 912344 81234 pts/0    Sl+  09:12   1:02 python3 "
        "/home/jdoe/a.py --password=hunter2 --mail jdoe@uni.example.edu\n"
    )
    records = parse(listing).processes
    scrubber = Scrubber("pseudonymize", b"k")
    scrubber.scrub_processes(records)
    root, mine = records
    assert root.user == "root" and root.command == "/sbin/init"
    assert mine.user == scrubber.user("jdoe")
    assert mine.command == "python3 /home/[user]/a.py --password=[secret] --mail [email]"
    assert mine.app == "python3" and mine.pid == 4242


def test_a_command_scrubbed_before_is_scrubbed_for_each_listing_s_own_users() -> None:
    """Scrubbed command lines are remembered; what a listing's account names make of a command
    is not carried over to a listing of other users (the memo keys on the names too)."""
    head = "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
    row = "{}  42  0.0  0.1  1000  100 ?  S  09:12  0:01 backup --owner kwong --to lab1.example\n"
    scrubber = Scrubber("pseudonymize", b"k")
    commands = []
    for owner in ("kwong", "amira", "kwong"):
        records = parse(head + row.format(owner)).processes
        scrubber.scrub_processes(records)
        users = {r.user for r in records}
        names, hints = scrubber._names_pattern({owner})
        commands.append(scrubber._scrub_with(records[0].command, names, hints))
        assert users == {scrubber.user(owner)}
    pseudonym = scrubber.user("kwong")
    assert commands == [f"backup --owner {pseudonym} --to lab1.example",
                        "backup --owner kwong --to lab1.example",
                        f"backup --owner {pseudonym} --to lab1.example"]  # fmt: skip


@given(st.text())
def test_scrub_text_is_total_and_idempotent(text: str) -> None:
    once = scrub_text(text)
    assert isinstance(once, str)
    assert scrub_text(once) == once


@given(
    st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,8})?@[a-z]{2,10}\.(edu|org|com)", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)
def test_no_email_survives(email: str, noise: str) -> None:
    scrubbed = scrub_text(f"{noise} {email} {noise}") or ""
    assert email not in scrubbed


_MALFORMED_ROW = "kwong 77 broken vim /home/kwong/diary.txt kwong@uni.example.edu"


@pytest.mark.parametrize(
    "listing",
    [
        "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
        "root           1  0.0  0.1 167744 11660 ?        Ss   Nov27   0:05 /sbin/init\n"
        f"{_MALFORMED_ROW}\n",
        "UID          PID    PPID  C STIME TTY          TIME CMD\n"
        "root           1       0  0 Nov27 ?        00:00:05 /sbin/init\n"
        f"{_MALFORMED_ROW}\n",
        "\r\nImage Name                     PID Session Name        Session#    Mem Usage\r\n"
        "========================= ======== ================ =========== ============\r\n"
        "System Idle Process              0 Services                   0          8 K\r\n"
        f"{_MALFORMED_ROW}\r\n",
        '"Image Name","PID","Session Name","Session#","Mem Usage"\r\n'
        '"System Idle Process","0","Services","0","8 K"\r\n'
        f'"{_MALFORMED_ROW}","C:\\Users\\kwong"\r\n',
        "\r\nHandles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\r\n"
        "-------  ------    -----      -----     ------     --  -- -----------\r\n"
        "    123      10     2048       4096       0.50   1234   1 notepad\r\n"
        f"{_MALFORMED_ROW}\r\n",
    ],
    ids=["ps-aux", "ps-ef", "tasklist", "tasklist-csv", "get-process"],
)
def test_warnings_name_the_line_never_the_row(listing: str) -> None:
    """Warnings are stored where query keys read them: a malformed row's text (its user, files
    and addresses) must not be in them; the line number says where to look in the raw output."""
    result = parse(listing)
    assert len(result.processes) == 1 and len(result.warnings) == 1
    warning = result.warnings[0]
    assert re.match(r"line \d+: skipped malformed", warning)
    assert "kwong" not in warning and "diary" not in warning and "@" not in warning


def test_the_logged_in_users_name_is_found_behind_its_pseudonym() -> None:
    """The api pseudonymizes the user before the snapshot travels; in a listing without a user
    column the worker still finds that name in command lines (by its pseudonym) and replaces it."""
    from datetime import UTC, datetime

    from dream.snapshots import Snapshot, SnapshotIn
    from dream.worker.processing import process_snapshot

    scrubber = Scrubber("pseudonymize", b"k")
    listing = ("    PID COMMAND\n      1 /sbin/init\n"
               "     42 rsync -a /srv/data backup:/x --owner kwong\n")  # fmt: skip
    incoming = SnapshotIn(host="h", os="linux", user="kwong", faculty="law", output=listing,
                          collected_at=datetime.now(UTC), command="ps -eo pid,args")  # fmt: skip
    travelled = scrubber.for_transport(Snapshot.accept(incoming))
    assert travelled.user == scrubber.user("kwong")
    processed = process_snapshot(travelled, scrubber)
    assert processed.snapshot.user == scrubber.user("kwong")  # not pseudonymized twice
    assert processed.processes[1].command == f"rsync -a /srv/data backup:/x --owner {travelled.user}"


@pytest.mark.parametrize(("title", "image", "kept"), [
    ("Case notes.docx - Word", "WINWORD.EXE", "Word"),
    ("Contract review - Google Chrome", "chrome.exe", "Google Chrome"),
    ("Re: your grant - Message (HTML)", "OUTLOOK.EXE", "Message (HTML)"),
    ("Inbox - jane.doe@uni.example.edu - Outlook", "OUTLOOK.EXE", "Outlook"),
    ("main.py - thesis - Visual Studio Code", "Code.exe", "Visual Studio Code"),
    ("Tableau - Survey results", "tableau.exe", "Tableau"),  # the application first
    ("SOLIDWORKS Premium 2024 - [bracket.SLDPRT]", "SLDWORKS.exe", "SOLIDWORKS Premium 2024"),
    ("Survey — Mozilla Firefox", "firefox.exe", "Mozilla Firefox"),
    ("x.psd @ 66.7% (RGB/8) - Adobe Photoshop", "Photoshop.exe", "Adobe Photoshop"),
    ("Task Manager", "Taskmgr.exe", "Task Manager"),
    ("poster.ai @ 100% (CMYK/Preview)", "Illustrator.exe", "[file]"),
    (None, "x.exe", None),
])  # fmt: skip
def test_a_window_title_keeps_its_application_only(title: str | None, image: str,
                                                   kept: str | None) -> None:  # fmt: skip
    assert scrub_title(title, image) == kept
