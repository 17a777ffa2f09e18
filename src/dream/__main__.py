"""``python -m dream`` is the ``dream`` command."""

from dream.cli import app

app()
