"""An operator's catalog: merged over the built-in one, and every fault named (file, line,
product, field) by ``Catalog.load`` and ``dream catalog check``; the memo stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dream.catalog import Catalog, CatalogError, command_head
from dream.cli import app

pytestmark = pytest.mark.unit

CATALOG = Catalog.load()

LOCAL = """
[products.lab-imager]
name = "Lab Imager"
vendor = "Physics Department"
category = "science"
names = ["labimager"]
version = 'labimager-(?P<version>\\d+\\.\\d+)'
examples = [{ command = "/opt/labimager-2.1/bin/labimager --scan", version = "2.1" }, "LabImager.exe"]

[products.stata]
name = "Stata (campus licence)"
vendor = "StataCorp"
category = "statistics"
names = ["StataSE-64", "xstata-se"]
examples = ["StataSE-64.exe"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "local.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_local_products_add_to_and_replace_built_in_ones(tmp_path: Path) -> None:
    built_in = Catalog.load()
    catalog = Catalog.load(_write(tmp_path, LOCAL))
    assert len(catalog.products) == len(built_in.products) + 1
    imager = catalog.match("labimager", "/opt/labimager-2.1/bin/labimager --scan", "linux")
    assert imager is not None and (imager.product, imager.version) == ("lab-imager", "2.1")
    stata = catalog.match("StataSE-64.exe", None, "windows")
    assert stata is not None and stata.name == "Stata (campus licence)"
    assert catalog.match("StataMP-64.exe", None, "windows") is None  # replaced, not merged
    assert catalog.version != built_in.version and catalog.check() == []
    assert catalog.local == ("lab-imager", "stata") and built_in.local == ()


def test_a_local_product_may_name_a_built_in_family(tmp_path: Path) -> None:
    path = _write(tmp_path, '[products.mstest]\nname = "Office Test"\nfamily = "microsoft-office"\n'
                            'windows = ["MSTEST.EXE"]\nexamples = ["MSTEST.EXE"]\n')  # fmt: skip
    found = Catalog.load(path).match(None, "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
                                           "MSTEST.EXE", "windows")  # fmt: skip
    assert found is not None and (found.vendor, found.category, found.version) == (
        "Microsoft", "office", "16")


@pytest.mark.parametrize(("text", "expected"), [
    ('[products.a]\nname = "A"\nvendor = "V"\ncategory = "stats"\nnames = ["a"]\nexamples = ["a"]\n',
     ["local.toml:1: product 'a': field 'category': unknown category 'stats'"]),
    ('[products.a]\nname = "A"\nvendor = "V"\ncategory = "science"\npaths = ["(a"]\nexamples = ["a"]\n',
     ["local.toml:1: product 'a': field 'paths': bad regex '(a'"]),
    ('[products.a]\nname = "A"\nvendor = "V"\ncategory = "science"\nnames = ["a"]\nexamples = ["a"]\n'
     '\n[products.a]\nname = "B"\n',
     ["not valid TOML", "line 8"]),
    ('\n\n[products.a]\nvendor = "V"\ncategory = "science"\nnames = ["a"]\nexampels = ["a"]\n',
     ["local.toml:3: product 'a': field 'exampels': unknown field",
      "local.toml:3: product 'a': field 'name': is required",
      "local.toml:3: product 'a': field 'examples': at least one example"]),
    ('[products.ab]\nname = "A"\nvendor = "V"\ncategory = "science"\nnames = ["chrome"]\nexamples = ["chrome"]\n',
     ["local.toml:1: product 'ab': any name 'chrome' is also product 'google-chrome''s"]),
])  # fmt: skip
def test_a_bad_file_is_refused_with_every_problem_named(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.load(_write(tmp_path, text))
    message = str(caught.value)
    for part in expected:
        assert part in message, message


def test_a_rule_that_takes_another_products_examples_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, '[products.greedy]\nname = "Greedy"\nvendor = "V"\ncategory = "science"\n'
                            "paths = ['WINWORD']\nexamples = ['greedy WINWORD']\n")  # fmt: skip
    problems = Catalog.load(path).check()
    assert any("product 'microsoft-word': field 'examples': 'WINWORD.EXE' (windows) matches"
               " product 'greedy' instead" in p for p in problems), problems


def test_dream_catalog_check_exits_0_on_a_good_file_and_1_naming_each_problem(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["catalog", "check", str(_write(tmp_path, LOCAL))])
    assert good.exit_code == 0, good.output
    assert "2 products, " in good.output and "every example matches" in good.output
    assert "replaces the built-in product(s): stata" in good.output
    bad_path = tmp_path / "bad.toml"
    bad_path.write_text('[products.x]\nname = "X"\nvendor = "V"\ncategory = "science"\n'
                        'names = ["x-tool"]\nexamples = ["y-tool"]\n')  # fmt: skip
    bad = runner.invoke(app, ["catalog", "check", str(bad_path)])
    assert bad.exit_code == 1
    assert "bad.toml:1: product 'x': field 'examples': 'y-tool' (linux) matches no product" in bad.output


def test_dream_catalog_match_prints_the_product_as_json() -> None:
    result = CliRunner().invoke(app, ["catalog", "match", "--os", "linux",
                                      "/usr/local/MATLAB/R2023b/bin/glnxa64/MATLAB -nodesktop"])  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert (answer["product"], answer["version"]) == ("matlab", "R2023b")
    assert answer["catalog"] == Catalog.load().version


def test_the_memo_is_per_command_head_and_bounded() -> None:
    catalog = Catalog.load(memo=8)
    for n in range(50):
        found = catalog.match("chrome", f"/opt/google/chrome/chrome --type=renderer --renderer-client-id={n}",
                              "linux")  # fmt: skip
        assert found is not None and found.product == "google-chrome"
    info = catalog.lookup.cache_info()
    assert (info.misses, info.hits, info.maxsize) == (1, 49, 8)
    for n in range(50):
        catalog.match(f"tool{n}", f"/opt/tool{n}", "linux")
    assert catalog.lookup.cache_info().currsize == 8
    assert len(catalog._seen) <= 8  # whole command lines seen: bounded too
    again = catalog.match("chrome", "/opt/google/chrome/chrome --type=renderer --renderer-client-id=3",
                          "linux")  # fmt: skip
    assert again is not None and again.product == "google-chrome"


def test_the_command_head_keeps_what_names_the_program() -> None:
    assert command_head("/opt/google/chrome/chrome --type=renderer --lang=en-US") == (
        "/opt/google/chrome/chrome --type=renderer")
    assert command_head("java -Xmx4g -Dx=1 -jar /opt/ImageJ/ij.jar -batch m.ijm") == (
        "java -Xmx4g -jar /opt/ImageJ/ij.jar")
    assert command_head(None) == ""


@pytest.mark.parametrize("fields", [
    'version = 5', 'family = ["a"]', 'windows = [1]', 'macos = [""]', 'examples = "a"',
    'examples = [{ command = "a", os = "beos" }]', 'examples = [{ cmd = "a" }]', 'note = 3',
    'paths = ["(?P<version>"]',
])  # fmt: skip
def test_a_field_of_the_wrong_form_is_a_named_problem_never_a_crash(tmp_path: Path, fields: str) -> None:
    text = f'[products.a]\nname = "A"\nvendor = "V"\ncategory = "science"\nnames = ["a"]\n{fields}\n'
    text = text if "examples" in fields else text + 'examples = ["a"]\n'
    with pytest.raises(CatalogError) as caught:
        Catalog.load(_write(tmp_path, text))
    assert all("local.toml:1: product 'a': field '" in problem for problem in caught.value.problems)


@given(name=st.one_of(st.none(), st.text(max_size=40)), command=st.one_of(st.none(), st.text(max_size=300)),
       os=st.sampled_from([None, "windows", "macos", "linux"]))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_any_name_and_command_gives_a_match_or_none(name: str | None, command: str | None,
                                                      os: str | None) -> None:  # fmt: skip
    found = CATALOG.match(name, command, os)
    assert found is None or found.product in CATALOG.products
