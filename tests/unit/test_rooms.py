"""Rooms stay small: no module over 400 lines and no function over 60 without a reason written
next to it (a module's docstring saying why it is "over 400 lines", a comment on the def line)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "ordersync"
MODULE_LINES, FUNCTION_LINES = 400, 60


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_400_lines_without_a_reason():
    long = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > MODULE_LINES and "over 400 lines" not in doc.lower():
            long.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
    assert long == []


def test_no_function_over_60_lines_without_a_reason():
    long = []
    for path in _sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > FUNCTION_LINES and "#" not in lines[node.lineno - 1]:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {size} lines")
    assert long == []
