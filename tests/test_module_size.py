"""Every armtwin module over 400 lines says at its top why it is that long (or it is split).

The reason is a line of the module docstring starting with ``Size:`` (the one marker, so a reader and
this test find it the same way), e.g. ``Size: over 400 lines because ...``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import armtwin

MAX_LINES = 400
MARKER = "Size:"
PACKAGE = Path(armtwin.__file__).parent


def _states_its_size(source: str) -> bool:
    doc = ast.get_docstring(ast.parse(source)) or ""
    return any(line.lstrip().startswith(MARKER) for line in doc.splitlines())


def test_the_marker_is_read_from_the_module_docstring_only():
    assert _states_its_size('"""A module.\n\nSize: over 400 lines because it is one parser.\n"""\n')
    assert not _states_its_size('"""A module."""\n\n# Size: a comment is not the docstring\n')
    assert not _states_its_size('"""A module mentioning Size: mid-line."""\n')
    assert not _states_its_size("x = 1\n")


def test_long_modules_state_why():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the package itself was found, not an empty folder
    offenders = []
    for path in modules:
        source = path.read_text(encoding="utf-8")
        n = len(source.splitlines())
        if n > MAX_LINES and not _states_its_size(source):
            offenders.append(f"{path.relative_to(PACKAGE.parent)} ({n} lines)")
    assert not offenders, (f"modules over {MAX_LINES} lines without a '{MARKER} ...' line in their docstring "
                           f"saying why (split them or state the reason): {', '.join(offenders)}")
