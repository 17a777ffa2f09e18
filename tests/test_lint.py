"""The linters CI's workflow runs (ruff, mypy, import-linter), kept green by the suite itself."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from helpers import unavailable

ROOT = Path(__file__).resolve().parent.parent


def assert_finds_nothing(tool: str, *args: str, timeout: float = 120) -> None:
    """Run a linter installed beside this Python (a dev dependency); it must report nothing."""
    path = Path(sys.executable).parent / tool
    if not path.exists():
        unavailable(f"{tool} is not installed (a dev dependency)")
    result = subprocess.run(
        [str(path), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing() -> None:
    assert_finds_nothing("ruff", "check", "src", "tests", "bench", "scripts")


def test_mypy_finds_nothing() -> None:
    assert_finds_nothing("mypy", "src/dream", timeout=600)


def test_imports_point_down_only() -> None:
    """The layers contract in pyproject.toml (import-linter): no module imports a layer above."""
    assert_finds_nothing("lint-imports", "--no-cache")


def dream_modules() -> set[str]:
    """Every package and top-level module of dream, as the source tree has them."""
    src = ROOT / "src" / "dream"
    names = {f"dream.{p.stem}" for p in src.glob("*.py") if p.stem != "__init__"}
    names |= {f"dream.{d.name}" for d in src.iterdir() if d.is_dir() and any(d.rglob("*.py"))}
    return names


def test_layers_contract_names_every_module() -> None:
    """A module the contract does not name is not checked at all: name it where it belongs."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    named = {
        name.strip().strip("()")
        for layer in contract["layers"]
        for name in re.split(r"[|:]", layer)
    }
    assert dream_modules() - named == set(), "name these in pyproject's layers contract"
    assert named - dream_modules() == set(), "these no longer exist: remove them from the contract"


def test_every_package_is_a_regular_package() -> None:
    """A directory without ``__init__.py`` is a namespace package, which the linter skips."""
    src = ROOT / "src" / "dream"
    missing = [
        str(d.relative_to(src))
        for d in src.rglob("*")
        if d.is_dir() and any(d.glob("*.py")) and not (d / "__init__.py").exists()
    ]
    assert missing == []


def test_readme_layout_names_every_module() -> None:
    """The README's layout section lists every package and top-level module of dream."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^  (\w+)(?:/|\.py)\s", layout, re.MULTILINE))
    assert {name.removeprefix("dream.") for name in dream_modules()} == listed


MAX_MODULE_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    """One concern per module: a module past 400 lines is split by concern, not left to grow.
    Python and the dashboard's JavaScript alike. (The C accelerator, parsing/_speedups.c, is
    one hot loop per layout and not counted, nor third-party code copied into
    dashboard/static/vendor.)"""
    src = ROOT / "src" / "dream"
    lines = {
        str(path.relative_to(src)): len(path.read_text(encoding="utf-8").splitlines())
        for pattern in ("*.py", "*.js")
        for path in src.rglob(pattern)
        if "vendor" not in path.relative_to(src).parts
    }
    assert {name: n for name, n in lines.items() if n > MAX_MODULE_LINES} == {}
