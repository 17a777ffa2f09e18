"""Each analytics question defined once: see ``registry`` (the entries) and ``base``."""

from __future__ import annotations

from typing import Any

from dream.analytics.questions.base import CURSOR, ExportLimit, Question
from dream.analytics.questions.registry import PROCESS_COLUMNS, QUESTIONS, Params

BY_NAME: dict[str, Question[Any]] = {q.name: q for q in QUESTIONS}

__all__ = ["BY_NAME", "CURSOR", "PROCESS_COLUMNS", "QUESTIONS", "ExportLimit", "Params",
           "Question"]  # fmt: skip
