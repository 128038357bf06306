"""Completion words for the editor: the grid format's keys and enum values (its JSON Schema),
the demande fields and their values (``cotation.data.schema``) and the expression functions."""
from __future__ import annotations

import json
from importlib import resources


def _walk(node, keys: dict[str, str], enums: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in (node.get("properties") or {}).items():
            if isinstance(v, dict) and k not in keys:
                keys[k] = str(v.get("description", ""))[:120]
        for e in node.get("enum") or ():
            if isinstance(e, str):
                enums.add(e)
        for v in node.values():
            _walk(v, keys, enums)
    elif isinstance(node, list):
        for v in node:
            _walk(v, keys, enums)


def completion_words() -> list[dict]:
    """Every word the editor proposes, as CodeMirror completions (label, type, detail, info)."""
    from cotation.data.schema import COLUMNS, DERIVED
    from cotation.grid.ir import FUNCTIONS
    schema = json.loads((resources.files("cotation.grid") / "grid.schema.json").read_text("utf-8"))
    keys: dict[str, str] = {}
    enums: set[str] = set()
    _walk(schema, keys, enums)
    words: list[dict] = [{"label": k, "type": "property", "detail": "clé", "info": d or None}
                         for k, d in sorted(keys.items())]
    words += [{"label": e, "type": "enum", "detail": "valeur"} for e in sorted(enums)]
    for c in COLUMNS:
        words.append({"label": c.name, "type": "variable", "detail": "champ", "info": c.label})
        words += [{"label": v, "type": "enum", "detail": f"valeur de {c.name}"} for v in c.enum or ()]
    words += [{"label": d.name, "type": "variable", "detail": "champ dérivé", "info": d.label}
              for d in DERIVED]
    words += [{"label": f, "type": "function", "detail": "fonction"} for f in FUNCTIONS]
    words += [{"label": w, "type": "keyword", "detail": "expression"}
              for w in ("today", "loc.commune", "loc.rang", "and", "or", "not", "in", "between",
                        "true", "false")]
    seen: set[tuple[str, str]] = set()
    out = []
    for w in words:
        if (w["label"], w["type"]) not in seen:
            seen.add((w["label"], w["type"]))
            out.append(w)
    return out
