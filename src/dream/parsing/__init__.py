"""Process listings (``ps``, ``top``, ``tasklist``, ``Get-Process``) to ``ProcessRecord``s.

A pure library: no I/O. ``parse`` raises nothing but ``ParseError``.
"""

from dream.errors import ParseError
from dream.parsing.core import parse
from dream.parsing.detect import FORMATS
from dream.parsing.model import ParseResult, ProcessRecord

__all__ = ["FORMATS", "ParseError", "ParseResult", "ProcessRecord", "parse"]
