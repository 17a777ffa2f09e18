"""The GitHub workflows (.github/workflows) are read by actionlint, with shellcheck on their
``run:`` scripts: a job GitHub would refuse, an expression naming an unknown context, a bad
action input or a shell mistake fails here instead of on the first push.

actionlint is built from its module at a pinned version (Go is needed for the agent anyway);
shellcheck is Debian's (`make test` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import unavailable

ROOT = Path(__file__).resolve().parents[1]
ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
TOOLS = ROOT / ".cache" / "tools" / "actionlint-v1.7.12"


@pytest.fixture(scope="module")
def actionlint() -> Path:
    binary = TOOLS / "actionlint"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        unavailable("`go` is not installed: actionlint cannot be built to check the workflows")
        raise AssertionError  # (unreachable: unavailable() fails or skips)
    TOOLS.mkdir(parents=True, exist_ok=True)
    built = subprocess.run([go, "install", ACTIONLINT], env={**os.environ, "GOBIN": str(TOOLS)},
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stderr
    return binary


@pytest.fixture(scope="module")
def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        unavailable("shellcheck is not installed (`make workflow-linter`): the workflows'"
                    " scripts would go unread")
        raise AssertionError
    return found


def lint(actionlint: Path, shellcheck: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(actionlint), "-shellcheck", shellcheck, "-no-color",
                           *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_workflows_pass_actionlint_and_shellcheck(actionlint: Path, shellcheck: str) -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    done = lint(actionlint, shellcheck, *workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_lint_finds_what_it_is_for(actionlint: Path, shellcheck: str,
                                       tmp_path: Path) -> None:  # fmt: skip
    """The same command on a workflow with an unknown context and an unquoted variable: both
    are reported, so a pass above is the tools' word, not their absence."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ secret.TOKEN }}\n"
        "      - run: rm -rf $TARGET/*\n"
    )
    done = lint(actionlint, shellcheck, broken)
    assert done.returncode != 0
    assert "secret" in done.stdout and "shellcheck" in done.stdout, done.stdout
