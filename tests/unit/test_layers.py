"""The layering ARCHITECTURE.md states, checked on the real imports of every module.

A module may import modules of its own layer or a lower one, never a higher one; the domain core
(layers 0-3) imports no Airflow at all, so it runs the same from a test, a CLI or a task; the
sandbox imports only the marketplace table it shares. A new module must be placed in a layer here
(and in ARCHITECTURE.md) before this passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "ordersync"

# rank: modules (a trailing ".*" takes a whole sub-package)
LAYERS: dict[int, tuple[str, ...]] = {
    0: ("model", "errors", "marketplaces", "sql", "channels.parsing", "shop.schema", "shop.engine", "shop.migrate"),
    1: ("channels.contract", "rules", "validation", "config", "pools", "ratelimit", "shop", "shop.*"),
    2: ("channels.amazon", "channels.cdiscount", "channels.lengow", "channels.registry"),
    3: ("steps", "steps.*", "reconcile", "report_html", "overview"),
    4: ("hooks", "hooks.*"),  # Airflow's HTTP provider and connections
    5: ("channels", "operators", "assets", "demo", "cli", "provider", "web", "web.*", "__main__", "__init__"),
    6: ("factory",),
}
AIRFLOW_FREE = 3  # layers up to this one never import airflow
SANDBOX_MAY_IMPORT = ("marketplaces",)


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def _rank(module: str) -> int | None:
    for rank, names in LAYERS.items():
        for name in names:
            if module == name or (name.endswith(".*") and module.startswith(name[:-1])):
                return rank
    return None


def _is_module(dotted: str) -> bool:
    if not dotted.startswith("ordersync."):
        return False
    path = PACKAGE.joinpath(*dotted.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at its top or inside a function (a lazy import is still a
    dependency), including TYPE_CHECKING-only ones."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:  # `from ordersync.channels import amazon` imports a submodule
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        if ".migrations" in f".{module}" or module.startswith("shop.migrations"):
            continue  # Alembic revisions: generated shape, they import the schema only
        yield path, module


def test_every_module_has_a_layer():
    unplaced = [module for _, module in _sources() if not module.startswith("sandbox") and _rank(module) is None]
    assert unplaced == [], f"place these in LAYERS and ARCHITECTURE.md: {unplaced}"


def test_no_module_imports_a_higher_layer():
    wrong = []
    for path, module in _sources():
        if module.startswith("sandbox"):
            continue
        rank = _rank(module)
        for target in _imports(path):
            if not target.startswith("ordersync."):
                continue
            name = target.removeprefix("ordersync.")
            target_rank = _rank(name)
            if target_rank is not None and rank is not None and target_rank > rank:
                wrong.append(f"{module} (layer {rank}) imports {name} (layer {target_rank})")
    assert wrong == []


def test_the_domain_core_imports_no_airflow():
    wrong = [
        f"{module} imports {target}"
        for path, module in _sources()
        if not module.startswith("sandbox") and (_rank(module) or 0) <= AIRFLOW_FREE
        for target in _imports(path)
        if target == "airflow" or target.startswith("airflow.")
    ]
    assert wrong == []


def test_the_sandbox_imports_only_what_it_shares():
    wrong = [
        f"{module} imports {target}"
        for path, module in _sources()
        if module.startswith("sandbox")
        for target in _imports(path)
        if target.startswith("ordersync.")
        and not target.startswith("ordersync.sandbox")
        and target.removeprefix("ordersync.") not in SANDBOX_MAY_IMPORT
    ]
    assert wrong == []
