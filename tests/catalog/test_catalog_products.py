"""The built-in catalog: every product's examples are its own, and the issue's cases hold."""

from __future__ import annotations

from collections import Counter

import pytest

from dream.catalog import CATEGORIES, Catalog

pytestmark = pytest.mark.unit

CATALOG = Catalog.load()


def test_the_catalog_covers_what_a_university_runs() -> None:
    assert len(CATALOG.products) >= 300
    per_category = Counter(p.category for p in CATALOG.products.values())
    assert set(per_category) <= set(CATEGORIES)
    for category in ("office", "browser", "communication", "statistics", "mathematics",
                     "programming", "cad-engineering", "gis", "graphics-media", "reference",
                     "science", "security", "system"):  # fmt: skip
        assert per_category[category] >= 5, category


@pytest.mark.parametrize("product_id", sorted(CATALOG.products))
def test_each_example_matches_its_product_and_no_other(product_id: str) -> None:
    product = CATALOG.products[product_id]
    assert product.examples, f"{product_id} has no example"
    for example in product.examples:
        found = CATALOG.match(example.name, example.command, example.os)
        assert found is not None, f"{example.text!r} matches nothing"
        assert found.product == product_id, f"{example.text!r} is {found.product}"
        if example.version is not None:
            assert found.version == example.version, example.text


def test_check_reports_nothing_on_the_built_in_catalog() -> None:
    assert CATALOG.check() == []


def test_word_on_windows_and_macos_is_one_product_and_libreoffice_writer_another() -> None:
    windows = CATALOG.match("WINWORD.EXE", None, "windows")
    macos = CATALOG.match("Microsoft Word",
                          "/Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word", "macos")  # fmt: skip
    linux = CATALOG.match("soffice.bin",
                          "/usr/lib/libreoffice/program/soffice.bin --writer --splash-pipe=5", "linux")  # fmt: skip
    assert windows is not None and macos is not None and linux is not None
    assert windows.product == macos.product == "microsoft-word"
    assert (windows.name, windows.vendor, windows.category) == ("Microsoft Word", "Microsoft", "office")
    assert linux.product == "libreoffice-writer" and linux.category == "office"
    calc = CATALOG.match("soffice.bin", "/usr/lib/libreoffice/program/soffice.bin --calc", "linux")
    assert calc is not None and calc.product == "libreoffice-calc"


CHROME = [
    ("chrome.exe", None, "windows"),
    ("chrome.exe", '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer'
     " --field-trial-handle=1760,i,1 --lang=en-US --renderer-client-id=7", "windows"),
    ("chrome", "/opt/google/chrome/chrome", "linux"),
    ("chrome", "/opt/google/chrome/chrome --type=renderer --crashpad-handler-pid=2140"
     " --enable-crash-reporter=, --renderer-client-id=9", "linux"),
    ("chrome_crashpad_handler", "/opt/google/chrome/chrome_crashpad_handler --monitor-self", "linux"),
    ("Google Chrome", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", "macos"),
    ("Google Chrome Helper (Renderer)",
     "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/"
     "120.0.6099.129/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper"
     " (Renderer) --type=renderer --lang=en-GB --num-raster-threads=4", "macos"),
    ("Google Chrome Helper (GPU)", None, "macos"),
]


@pytest.mark.parametrize(("name", "command", "os"), CHROME)
def test_chrome_on_three_oses_and_its_helpers_is_one_product(
    name: str, command: str | None, os: str
) -> None:
    found = CATALOG.match(name, command, os)
    assert found is not None and found.product == "google-chrome"
    assert found.category == "browser"


def test_matlab_on_linux_and_macos_is_one_product_with_two_versions() -> None:
    linux = CATALOG.match("MATLAB", "/usr/local/MATLAB/R2023b/bin/glnxa64/MATLAB -nosplash", "linux")
    macos = CATALOG.match("MATLAB", "/Applications/MATLAB_R2024a.app/bin/maca64/MATLAB", "macos")
    window = CATALOG.match("MATLABWindow",
                           "/usr/local/MATLAB/R2023b/bin/glnxa64/MATLABWindow -ipc=1", "linux")  # fmt: skip
    assert linux is not None and macos is not None and window is not None
    assert linux.product == macos.product == window.product == "matlab"
    assert (linux.version, macos.version, window.version) == ("R2023b", "R2024a", "R2023b")


def test_versions_come_from_paths_where_they_show() -> None:
    office = CATALOG.match(None, "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
                           "windows")  # fmt: skip
    stata = CATALOG.match("xstata-se", "/usr/local/stata18/xstata-se", "linux")
    stata_win = CATALOG.match("StataSE-64.exe", None, "windows")
    assert office is not None and office.version == "16"
    assert stata is not None and stata.product == "stata" and stata.version == "18"
    assert stata_win is not None and stata_win.product == "stata" and stata_win.version is None


def test_helpers_and_children_fold_into_their_product_but_updaters_do_not() -> None:
    kernel = CATALOG.match("python3", "/usr/bin/python3 -m ipykernel_launcher -f /run/k-1.json", "linux")
    teams_update = CATALOG.match(
        "Update.exe", '"C:\\Users\\a\\AppData\\Local\\Microsoft\\Teams\\Update.exe" --processStart'
        ' "Teams.exe"', "windows")  # fmt: skip
    google_update = CATALOG.match("GoogleUpdate.exe", None, "windows")
    click_to_run = CATALOG.match("OfficeClickToRun.exe", None, "windows")
    assert kernel is not None and kernel.product == "jupyter"
    assert teams_update is not None and teams_update.product == "microsoft-teams"
    assert google_update is not None and google_update.category == "system"
    assert click_to_run is not None and click_to_run.category == "system"
    assert click_to_run.product != "microsoft-word"


def test_a_bundle_named_in_an_argument_is_not_the_process() -> None:
    found = CATALOG.match("codesign",
                          "/usr/bin/codesign --verify --deep /Applications/Microsoft PowerPoint.app", "macos")  # fmt: skip
    assert found is None or found.product != "microsoft-powerpoint"
    opened = CATALOG.match("open", "/usr/bin/open /Applications/Microsoft Word.app", "macos")
    assert opened is None


@pytest.mark.parametrize(("name", "command", "os"), [
    ("thesis_model.exe", None, "windows"),
    ("a.out", "./a.out --iterations 100", "linux"),
    ("LabTool", "/Applications/LabTool.app/Contents/MacOS/LabTool", "macos"),
    (None, None, None),
])  # fmt: skip
def test_an_executable_the_catalog_does_not_know_is_none(
    name: str | None, command: str | None, os: str | None
) -> None:
    assert CATALOG.match(name, command, os) is None


def test_the_version_names_the_declared_version_and_the_rules() -> None:
    assert CATALOG.version.startswith(CATALOG.declared + "+")
    assert Catalog.load().version == CATALOG.version


@pytest.mark.parametrize(("name", "os", "product"), [
    ("gnome-terminal-", "linux", "gnome-terminal"),  # top and ps -e keep 15 characters of comm
    ("chrome_crashpad", "linux", "google-chrome"),
    ("MATLABStartupAc", "linux", "matlab"),
    ("Microsoft.Management.Serv", "windows", "microsoft-intune"),  # tasklist's 25 columns
])  # fmt: skip
def test_names_as_listings_cut_them_still_match(name: str, os: str, product: str) -> None:
    found = CATALOG.match(name, name if os == "linux" else None, os)
    assert found is not None and found.product == product
    assert CATALOG.match(name[:-3], None, os) is None  # only a name cut at the width is one


def test_top_on_linux_names_its_processes_by_comm() -> None:
    from dream.parsing import parse

    top = ("top - 10:01:02 up 3 days,  1:02,  1 user,  load average: 0.52, 0.58, 0.59\n"
           "Tasks: 3 total,   1 running,   2 sleeping,   0 stopped,   0 zombie\n"
           "%Cpu(s):  5.9 us,  1.2 sy,  0.0 ni, 92.7 id,  0.0 wa,  0.0 hi,  0.2 si,  0.0 st\n"
           "MiB Mem :  15895.4 total,   2270.1 free,   7312.2 used,   6313.1 buff/cache\n"
           "MiB Swap:   2048.0 total,   2048.0 free,      0.0 used.   7791.8 avail Mem\n\n"
           "    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND\n"
           "   4242 msmith    20   0 4923412 412345 123456 S  12.5   2.5   1:02.03 MATLAB\n"
           "   4310 msmith    20   0 1923412 112345  23456 S   2.0   0.7   0:12.40 gnome-terminal-\n"
           "   5120 msmith    20   0 3923412 212345  53456 S   4.1   1.3   0:45.10 Isolated Web Co\n")  # fmt: skip
    result = parse(top.encode())
    found = {row.pid: CATALOG.match(row.name, row.command, result.os) for row in result.processes}
    assert {pid: m.product if m else None for pid, m in found.items()} == {
        4242: "matlab", 4310: "gnome-terminal", 5120: "mozilla-firefox"}


@pytest.mark.parametrize(("command", "os", "product"), [
    ("/usr/bin/python3 /data/affinity/train.py --epochs 3", "linux", "python"),  # binding affinity
    ('"C:\\Program Files\\VideoLAN\\VLC\\vlc.exe" C:\\Users\\a\\Panopto\\lecture.mp4', "windows", "vlc"),
    ("/usr/bin/python3 /home/a/models/tuned/run.py", "linux", "python"),
    ("/usr/bin/Rscript /home/a/jamovi-data/analysis.R", "linux", "r"),
    ("/usr/bin/python2 -Es /usr/sbin/tuned -l -P", "linux", "unattended-upgrades"),
    ("/Library/Application Support/LANDesk/bin/ldscheduler", "macos", "ivanti-endpoint-manager"),
])  # fmt: skip
def test_path_rules_read_the_executable_and_argument_rules_the_program(
    command: str, os: str, product: str
) -> None:
    """An install path in an argument (a data folder, a file opened) names no product; the
    program an interpreter runs does."""
    found = CATALOG.match(None, command, os)
    assert found is not None and found.product == product
