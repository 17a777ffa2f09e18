"""Builds the parsers' optional C accelerator; all other metadata lives in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and the parsers run
in pure Python. ``DREAM_REQUIRE_SPEEDUPS=1`` (the Docker image, CI) makes a failed build fatal.
"""

import os

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "dream.parsing._speedups",
            ["src/dream/parsing/_speedups.c"],
            optional=os.environ.get("DREAM_REQUIRE_SPEEDUPS") != "1",
        )
    ]
)
