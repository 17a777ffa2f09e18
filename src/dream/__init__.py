"""Dream: ingest process listings from university machines and answer research questions."""

__version__ = "0.1.0"
