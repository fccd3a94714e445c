"""Prints a greeting as HTML, escaped by MarkupSafe (a compiled wheel from PyPI)."""

import sys

import markupsafe


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "<world>"
    # MarkupSafe's C speedups: a compiled extension from a manylinux wheel.
    speedups = markupsafe._escape_inner.__module__ == "markupsafe._speedups"
    print(markupsafe.Markup("<p>Hello, {}!</p>").format(name))
    print(f"speedups: {speedups}")
