"""French for users: every marked message has a French translation, the shipped .mo is the
compiled .po, the language follows the environment, and every diagnostic of the broken grids
is entirely in French."""
from __future__ import annotations

import gettext
import re
import io
from pathlib import Path

import pytest

from cotation import i18n
from cotation.grid import load_grid
from cotation.grid.diagnostics import GridError, Message

from _support import ROOT

PO = ROOT / "cotation" / "locale" / "fr" / "LC_MESSAGES" / "cotation.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "msg": None, "ngettext": (1, 2)}


def _catalogue():
    babel = pytest.importorskip("babel.messages.pofile")
    with open(PO, "rb") as fh:
        return babel.read_po(fh, locale="fr")


def _extracted() -> set[str]:
    extract = pytest.importorskip("babel.messages.extract")
    ids = set()
    for folder in ("cotation", "sne_adapters"):
        for _file, _line, message, _comments, _ctx in extract.extract_from_dir(
                ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_marked_message_has_a_french_translation():
    cat = _catalogue()
    translated = {m.id for m in cat if m.id and m.string and not m.fuzzy}
    missing = sorted(_extracted() - translated)
    assert not missing, "messages without French translation (run tools/i18n.sh, then translate):\n" \
        + "\n".join(missing)


def test_shipped_mo_is_the_compiled_po():
    cat = _catalogue()
    mo = gettext.GNUTranslations(io.BytesIO(MO.read_bytes()))
    for m in cat:
        if m.id and m.string:
            assert mo.gettext(m.id) == m.string, f"{MO.name} is stale: run tools/i18n.sh"


@pytest.mark.parametrize("env,lang", [
    ({}, "fr"), ({"LANG": "C.UTF-8"}, "fr"), ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LANG": "en_GB.UTF-8"}, "en"), ({"LC_MESSAGES": "en_US"}, "en"),
    ({"LANGUAGE": "en:fr", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"COTATION_LANG": "en", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"COTATION_LANG": "fr", "LANG": "en_US.UTF-8"}, "fr"),
])
def test_language_follows_the_environment(env, lang):
    assert i18n.language(env) == lang


def test_argparse_messages_are_translated(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")
    assert i18n.translate_argparse("the following arguments are required: --today") \
        == "arguments obligatoires manquants : --today"
    assert i18n.translate_argparse("argument --engine: invalid choice: 'x' (choose from 'a', 'b')") \
        == "argument --engine : choix invalide : 'x' (possibles : 'a', 'b')"
    assert i18n.translate_argparse("something argparse may say one day") == "something argparse may say one day"


def _templates(text) -> list[str]:
    if not isinstance(text, Message):
        return []
    out = [text.template]
    for value in text.params.values():
        out.extend(_templates(value))
    return out


BROKEN = sorted(p for p in (ROOT / "grids" / "broken").glob("*.yaml") if p.name != "expected.yaml")


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_grid_diagnostics_are_in_french(path, monkeypatch):
    """Every part of every diagnostic (message, hint, the words inside them) is translated."""
    monkeypatch.setenv("COTATION_LANG", "fr")
    with pytest.raises(GridError) as info:
        load_grid(path)
    fr = i18n.translations("fr")
    for d in info.value.diagnostics:
        for part in (d.message, d.hint):
            if part is None:
                continue
            assert isinstance(part, Message), f"{d.code}: message not marked for translation: {part}"
            for template in _templates(part):
                if template.strip(" ,") and any(c.isalpha() for c in template) \
                        and not re.fullmatch(r"'[\w.]+'", template):
                    assert fr.gettext(template) != template or template in ("applies_to", "expression"), \
                        f"{d.code}: no French for {template!r}"
        text = d.format()
        assert "erreur[" in text or "avertissement[" in text


def test_grid_author_hints(monkeypatch, tmp_path):
    """35%, 2,5, et/ou, = and French quotes get a hint saying what to write."""
    from _support import MINIMAL, write_grid
    monkeypatch.setenv("COTATION_LANG", "fr")
    cases = {"ressources_mensuelles > 35%": "0.35", "ressources_mensuelles > 2,5": "2.5",
             "dalo_statut == 'actif' et est_mutation": "and", "dalo_statut == 'actif' ou est_mutation": "or",
             "dalo_statut = 'actif'": "==", "dalo_statut == « actif »": "'texte'",
             "dalo_statut == “actif”": "'texte'"}
    for expr, advice in cases.items():
        path = write_grid(tmp_path, MINIMAL.replace("dalo_statut == 'actif'", expr.replace('"', '\\"')))
        with pytest.raises(GridError) as info:
            load_grid(path)
        text = "\n".join(d.format() for d in info.value.diagnostics)
        assert advice in text, (expr, text)
        assert "error" not in text


def test_yaml_structure_error_in_plain_words(monkeypatch, tmp_path):
    from _support import MINIMAL, write_grid
    monkeypatch.setenv("COTATION_LANG", "fr")
    bad = MINIMAL.replace("    legal_priority: true", "   legal_priority: true")
    path = write_grid(tmp_path, bad)
    with pytest.raises(GridError) as info:
        load_grid(path)
    (d,) = info.value.diagnostics
    text = d.format()
    assert "block" not in text and "indentation" in text and "la ligne 14 contient" in text, text
    assert d.span.line == 14


def test_shipped_schema_is_the_editors_copy():
    assert (ROOT / "cotation" / "grid" / "grid.schema.json").read_bytes() \
        == (ROOT / "grids" / "grid.schema.json").read_bytes()


def test_no_function_shadows_the_translation_function():
    """``key, _, value = …`` inside a function that also calls ``_("…")`` makes ``_`` a local
    string there: the message call then fails (argparse even turns it into a generic error)."""
    import ast
    bad = []
    for folder in ("cotation", "sne_adapters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in ast.walk(tree):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                stores, loads = [], []
                todo = list(ast.iter_child_nodes(fn))
                while todo:
                    node = todo.pop()
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                                         ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                        continue          # their own scope
                    if isinstance(node, ast.Name) and node.id == "_":
                        (stores if isinstance(node.ctx, ast.Store) else loads).append(node.lineno)
                    todo.extend(ast.iter_child_nodes(node))
                if stores and loads:
                    bad.append(f"{path.relative_to(ROOT)}:{fn.lineno}: assigns _ at {stores}")
    assert not bad, "\n".join(bad)
