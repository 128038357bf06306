"""The layout by stages holds: imports go one way (data → grid → engine → info, flux →
analysis, testing → api, cli), no import cycle,
and no module over about 600 lines without saying why."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Stage of each package; a module may import its own stage and lower ones only.
LEVEL = {
    "cotation": 0, "cotation.progress": 0, "cotation.data": 1, "cotation.grid": 2,
    "sne_adapters": 2, "cotation.engine": 3, "cotation.info": 4, "cotation.flux": 4,
    "cotation.analysis": 5, "cotation.testing": 5, "cotation.api": 6, "cotation.studio": 6, "cotation.cli": 7,
    "cotation.__main__": 8,  # `python -m cotation`: the command line's entry point
}
MAX_LINES = 650


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in ("cotation", "sne_adapters"):
        for p in sorted((ROOT / pkg).rglob("*.py")):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = p
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Every import of every module, lazy ones included, resolved to project modules."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = m.split(".") if p.name == "__init__.py" else m.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
                names = subs if len(subs) == len(node.names) else [target, *subs]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for t in names:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m:
                    edges[m].add(t)
    return edges


def _stage(m: str) -> str:
    return max((s for s in LEVEL if m == s or m.startswith(s + ".")), key=len)


def test_imports_go_one_way():
    edges = _imports(_modules())
    upward = [f"{m} -> {t}" for m, ts in edges.items() for t in ts
              if _stage(m) != _stage(t) and _stage(t) != "cotation" and LEVEL[_stage(t)] >= LEVEL[_stage(m)]]
    assert not upward, "imports against the flow of stages:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    edges = _imports(_modules())
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(path[path.index(t):] + [t]))
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_modules_are_small_or_say_why():
    long = []
    for m, p in _modules().items():
        text = p.read_text(encoding="utf-8")
        n = text.count("\n")
        if n > MAX_LINES and "Why this module is long" not in text[:3000]:
            long.append(f"{p.relative_to(ROOT)}: {n} lines")
    assert not long, "modules over about 600 lines whose first lines do not say why:\n" + "\n".join(long)


def test_cotation_does_not_import_sne_adapters_outside_the_cli():
    edges = _imports(_modules())
    bad = [m for m, ts in edges.items() if m.startswith("cotation") and not m.startswith("cotation.cli")
           and any(t.startswith("sne_adapters") for t in ts)]
    assert not bad, bad
