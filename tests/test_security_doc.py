"""docs/security.md's OWASP ASVS walk cannot rot: every test it names is defined in the
file it names, and every row either names a test or says what is missing (*Gap*)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SECTION = "## OWASP ASVS level 2: the pages"
_NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
_REQUIREMENT = re.compile(r"^\d+\.\d+\.\d+")


def _section() -> str:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert _SECTION in text
    after = text.split(_SECTION, 1)[1]
    return re.split(r"^## ", after, flags=re.M)[0]


def _rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and _REQUIREMENT.match(cells[0]):
            rows.append(cells)
    return rows


@cache
def _defined(path: str) -> frozenset[str]:
    """The test functions defined at the top of a test module."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    )


def _missing(section: str) -> list[str]:
    return [
        f"{path}::{name}"
        for path, name in _NODE.findall(section)
        if not (ROOT / path).is_file() or name not in _defined(path)
    ]


def test_every_test_the_walk_names_exists() -> None:
    section = _section()
    named = _NODE.findall(section)
    assert len(named) >= 60
    assert _missing(section) == []


def test_every_requirement_names_a_test_or_says_why_not() -> None:
    rows = _rows(_section())
    assert len(rows) >= 80
    for cells in rows:
        assert len(cells) == 3, cells
        requirement, how, test = cells
        if test == "—":
            assert "*Gap*" in how, requirement
        else:
            assert _NODE.fullmatch(test.split(", ")[0]), requirement
            assert all(_NODE.fullmatch(one) for one in test.split(", ")), requirement


def test_the_check_finds_a_test_that_is_not_there() -> None:
    section = (
        "| 3.3.1 Cookies | as said | `tests/test_cookies.py::test_no_such_test`, "
        "`tests/test_no_such_file.py::test_anything` |\n"
        "| 3.3.4 HttpOnly | as said | `tests/test_cookies.py::"
        "test_every_cookie_of_the_pages_carries_its_attributes` |\n"
    )
    assert _missing(section) == [
        "tests/test_cookies.py::test_no_such_test",
        "tests/test_no_such_file.py::test_anything",
    ]
    assert len(_rows(section)) == 2
