"""The built wheel, installed into a fresh venv as the image installs it, run from outside the
repository: the data files the code loads are in it, and keys, ingestion and readiness work.

The editable install the rest of the suite runs reads SQL and static files from ``src/``, so a
file missing from ``package-data`` only shows here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import services
from helpers import unavailable
from served import serve_command
from smoke import smoke

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).with_name("uv")
# Sources are compiled or imported, not loaded as data; .gitignore is the repository's business.
_NOT_DATA = (".py", ".c", ".gitignore")


@dataclass
class Installed:
    wheel: Path
    python: Path
    bin: Path
    site_packages: Path


def _run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _git_files(*args: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        unavailable("the wheel tests build from a git checkout")
    return _run("git", "-C", ROOT, "ls-files", *args).stdout.splitlines()


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from a copy of the working tree (no stale build/ of the checkout can leak
    in), installed with ``requirements.lock`` into a new venv, as the Dockerfile does."""
    if not UV.exists():
        unavailable(f"{UV} is missing (uv is a dev dependency)")
    base = tmp_path_factory.mktemp("wheel")
    tree = base / "tree"
    for name in _git_files("--cached", "--others", "--exclude-standard"):
        source = ROOT / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    _run(UV, "build", "--wheel", "--quiet", "--out-dir", base / "dist", tree, timeout=300)
    (wheel,) = (base / "dist").glob("*.whl")
    venv = base / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, venv, timeout=120)
    python = venv / "bin" / "python"
    _run(UV, "pip", "install", "--quiet", "--python", python, "--require-hashes", "--no-deps",
         "-r", ROOT / "requirements.lock", timeout=300)  # fmt: skip
    _run(UV, "pip", "install", "--quiet", "--python", python, "--no-deps", wheel, timeout=120)
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout
    return Installed(wheel, python, venv / "bin", Path(site.strip()))


def test_the_wheel_holds_every_data_file_the_package_ships(installed: Installed) -> None:
    wanted = {
        name.removeprefix("src/")
        for name in _git_files("--cached", "--others", "--exclude-standard", "src/dream")
        if not name.endswith(_NOT_DATA)
    }
    assert "dream/security/queries.sql" in wanted  # the file the wheel once went without
    with zipfile.ZipFile(installed.wheel) as wheel:
        missing = wanted - set(wheel.namelist())
    assert not missing, f"package-data in pyproject.toml leaves these out of the wheel: {missing}"


# `pip install dream` (bare, or with extras) fetches an unrelated 2011 package from PyPI.
_WRONG_INSTALL = re.compile(r"install\s+['\"]?dream(\[|['\"`\s)]|$)", re.MULTILINE)


def test_the_distribution_is_dream_usage_and_every_instruction_says_so(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        (metadata,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        headers = wheel.read(metadata).decode()
        entry_points = next(wheel.read(n).decode() for n in wheel.namelist()
                            if n.endswith(".dist-info/entry_points.txt"))  # fmt: skip
    assert "\nName: dream-usage\n" in headers
    assert "dream = dream.cli:app" in entry_points  # the command keeps its name
    wrong: dict[str, list[str]] = {}
    for name in _git_files("--cached", "--others", "--exclude-standard"):
        path = ROOT / name
        if path.is_file() and path.suffix in {".md", ".py", ".ipynb", ".yml", ".yaml", ".toml", ""}:
            text = path.read_text(encoding="utf-8", errors="replace")
            found = [m.group(0) for m in _WRONG_INSTALL.finditer(text.replace("dream-usage", ""))]
            if found:
                wrong[name] = found
    wrong.pop("tests/test_wheel.py", None)
    assert not wrong, f"instructions that install the wrong package: {wrong}"


def _env(tmp: Path, database_url: str) -> dict[str, str]:
    """No DREAM_* from this shell (the suite turns authentication off): the defaults, a real
    database, and the installed venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DREAM_", "PYTHON"))}
    env.update(DREAM_DATABASE_URL=database_url, DREAM_DATA_DIR=str(tmp / "data"))
    return env


@contextmanager
def _serving(installed: Installed, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    port = services.free_port()
    argv: list[str | Path] = [installed.bin / "dream", "serve", "--port", str(port)]
    with serve_command(argv, port, env=env, log=cwd / "serve.log", cwd=cwd, timeout_s=60) as served:
        yield served.url


def test_the_installed_wheel_creates_keys_stores_a_snapshot_and_is_ready(
    installed: Installed, database_url: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, database_url)
    where = _run(installed.python, "-c", "import dream; print(dream.__file__)", cwd=tmp_path,
                 env=env).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(installed.site_packages), where  # not the checkout's src/

    created = _run(installed.bin / "dream", "keys", "create", "--name", "smoke", "--role", "admin",
                   cwd=tmp_path, env=env, timeout=60)  # fmt: skip
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("dream_"), created.stdout

    with _serving(installed, tmp_path, env) as url:
        state = smoke(url, secret)  # scripts/smoke.py, which CI runs against the image too
    assert state["status"] == "stored"


def test_ci_runs_the_same_smoke_test_against_the_image() -> None:
    import yaml

    jobs = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]
    steps = " ".join(str(step.get("run", "")) for step in jobs["image-smoke"]["steps"])
    assert "docker build" in steps and "keys create" in steps and " serve " in steps
    assert "scripts/smoke.py" in steps
    assert "image-smoke" in jobs["image"]["needs"]  # nothing is pushed that failed it
