"""Parsing with a catalog names products (what the worker stores); the answers' product
fields and the product/category filters read the same catalog. No services needed."""

from __future__ import annotations

import pytest

from dream.analytics.products import UnknownCategory, app_ids, describe, enrich
from dream.catalog import CATEGORIES, Catalog, builtin
from dream.parsing import parse

LISTING = """USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
ana         4200  3.0  2.0 500000 80000 ?        Sl   09:00   0:10 /opt/google/chrome/chrome
ana         4201  3.0  2.0 500000 80000 ?        Sl   09:00   0:10 /opt/google/chrome/chrome --type=renderer --field-trial-handle=1
ana         4202  3.0  2.0 500000 80000 ?        Sl   09:00   0:10 /opt/google/chrome/chrome --type=renderer --field-trial-handle=2
ana         4400  1.0  1.0  90000  9000 ?        S    09:00   0:01 /opt/lab/bin/frobnicator --fast
ana         4500  1.0  1.0  90000  9000 ?        S    09:00   0:01 /usr/local/MATLAB/R2023b/bin/glnxa64/MathWorksServiceHost
"""


def test_parsing_with_a_catalog_names_products_and_keeps_the_rest() -> None:
    plain = parse(LISTING, os="linux").processes
    named = parse(LISTING, os="linux", catalog=builtin()).processes
    assert [p.app for p in plain][:2] == ["chrome", "chrome"]  # the parsers' own reading
    assert [p.app for p in named][:3] == ["google-chrome"] * 3  # renderers fold in
    assert [p.name for p in named] == [p.name for p in plain]  # the executable stays
    assert named[3].app == "frobnicator" and not named[3].is_system  # unknown: its own name
    # A product of category system (runs whether or not MATLAB is used) is a system process.
    assert not plain[4].is_system
    assert (named[4].app, named[4].is_system) == ("mathworks-service-host", True)


def test_a_system_product_marks_the_process_system(tmp_path) -> None:
    local = tmp_path / "local.toml"
    local.write_text('[products.lab-daemon]\nname = "Lab daemon"\nvendor = "Workshop"\n'
                     'category = "system"\nlinux = ["frobnicator"]\n'
                     'examples = ["/opt/lab/bin/frobnicator --fast"]\n', encoding="utf-8")  # fmt: skip
    (frob,) = [p for p in parse(LISTING, os="linux", catalog=Catalog.load(local)).processes
               if p.name == "frobnicator"]  # fmt: skip
    assert (frob.app, frob.is_system) == ("lab-daemon", True)


def test_answers_and_filters_read_the_catalog() -> None:
    catalog = builtin()
    assert describe(catalog, "google-chrome") == {"product": "Google Chrome", "vendor": "Google",
                                                  "category": "browser"}  # fmt: skip
    assert describe(catalog, "frobnicator") == {"product": None, "vendor": None, "category": None}
    body = enrich({"items": [{"app": "matlab"}, {"os": "linux"}]}, catalog)
    assert body["items"] == [{"app": "matlab", "product": "MATLAB", "vendor": "MathWorks",
                              "category": "mathematics"}, {"os": "linux"}]  # fmt: skip
    assert body["catalog"] == catalog.version
    assert app_ids(catalog, None, None, None) is None
    assert app_ids(catalog, None, "Google Chrome", None) == ("google-chrome",)
    assert app_ids(catalog, None, "frobnicator", None) == ("frobnicator",)
    statistics = app_ids(catalog, None, None, "Statistics")
    assert statistics is not None and {"stata", "jasp"} <= set(statistics)
    assert "matlab" not in statistics and "frobnicator" not in statistics
    assert app_ids(catalog, "stata", None, "statistics") == ("stata",)
    assert app_ids(catalog, "matlab", None, "statistics") == ()
    with pytest.raises(UnknownCategory) as raised:
        app_ids(catalog, None, None, "spreadsheets")
    assert "'spreadsheets'" in str(raised.value) and all(c in str(raised.value) for c in CATEGORIES)
