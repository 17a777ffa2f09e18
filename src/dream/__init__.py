"""Dream: ingest process listings from university machines and answer research questions."""

from importlib.metadata import PackageNotFoundError, version

# The version lives once, in pyproject.toml; the installed distribution's metadata carries it.
try:
    __version__ = version("dream-usage")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
