"""The reference documentation is generated from the schema and the code: it must not drift,
its examples must be valid expressions, every grid key has a French description, and the
documents the README points to exist."""
from __future__ import annotations

import importlib.util
import json
import re

import pytest

from cotation.grid import load_grid
from cotation.grid.diagnostics import GridError

from _support import MINIMAL, ROOT, write_grid


def _generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_is_up_to_date():
    gen = _generator()
    assert (ROOT / "docs" / "reference.md").read_text(encoding="utf-8") == gen.render(), \
        "docs/reference.md is stale: run python tools/gen_docs.py"


def test_every_environment_variable_is_documented():
    """Each ``COTATION_*`` variable the package reads has its line in docs/reference.md."""
    read = set()
    for path in list((ROOT / "cotation").rglob("*.py")) + list((ROOT / "sne_adapters").rglob("*.py")):
        read |= set(re.findall(r"\bCOTATION_[A-Z_]+\b", path.read_text(encoding="utf-8")))
    documented = {name for name, _effect in _generator().ENVIRONMENT}
    assert read == documented


def test_formats_are_up_to_date():
    """docs/formats.md (mapping, flux inputs) comes from the JSON Schemas and the flux readers;
    a key without a French description or a column without a line stops the generator."""
    gen = _generator()
    assert (ROOT / "docs" / "formats.md").read_text(encoding="utf-8") == gen.render_formats(), \
        "docs/formats.md is stale: run python tools/gen_docs.py"


def test_formats_examples_are_valid():
    """The examples shown in docs/formats.md validate against their schemas."""
    import jsonschema
    import yaml
    gen = _generator()
    for schema_path, example in ((gen.MAPPING_SCHEMA, gen.MAPPING_EXAMPLE),
                                 (gen.CONVENTIONS_SCHEMA, gen.CONVENTIONS_EXAMPLE)):
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        jsonschema.validate(yaml.safe_load(example.read_text(encoding="utf-8")), schema)


def test_every_example_of_the_language_is_a_valid_expression(tmp_path):
    gen = _generator()
    examples = [e for _op, _m, e in gen.OPERATORS] + [e for _m, e in gen.FUNCTIONS.values()]
    for example in examples:
        condition = example if not re.match(r"^(min|max|clamp|abs|floor|ceil|round|months_between|"
                                            r"years_between|days_between|coalesce|if)\b|.* [-+*/] ",
                                            example) else f"({example}) >= 0"
        text = MINIMAL.replace("dalo_statut == 'actif'", condition.replace('"', '\\"'))
        try:
            load_grid(write_grid(tmp_path, text))
        except GridError as exc:
            pytest.fail(f"example {example!r} of docs/reference.md does not check:\n{exc}")


def test_every_grid_key_has_a_french_description():
    gen = _generator()
    rows: list = []
    schema = json.loads((ROOT / "cotation/grid/grid.schema.json").read_text(encoding="utf-8"))
    gen._keys(schema, schema["$defs"], "", rows, set())
    assert rows and all(desc for _k, _r, desc in rows), [k for k, _r, d in rows if not d]


def test_documents_pointed_to_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in re.findall(r"`(docs/[\w.-]+\.md)`", readme):
        assert (ROOT / name).is_file(), name


def test_example_grids_name_their_schema():
    for grid in (ROOT / "grids").glob("*.yaml"):
        if not grid.name.endswith(".cases.yaml"):
            first = grid.read_text(encoding="utf-8").splitlines()[0]
            assert first == "# yaml-language-server: $schema=grid.schema.json", grid.name


def test_every_repository_path_the_docs_cite_exists():
    """Paths in backquotes in the README and docs/ name files of the repository (a stale
    path, such as the grammar's old place, is a broken reference for the reader)."""
    pattern = re.compile(r"`((?:cotation|grammar|grids|examples|docs|sne_adapters|benchmarks|tools|tests)"
                         r"/[\w./-]+\.(?:py|md|lark|json|yaml|csv|j2|html|css))`")
    user_made = {"grids/ma-grille.yaml"}          # the README's example of a user's own grid
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
                *sorted((ROOT / "examples").glob("*/README.md")), ROOT / "sne_adapters/README.md"]:
        text = doc.read_text(encoding="utf-8")
        assert "../research/" not in text, doc.name
        missing += [f"{doc.relative_to(ROOT)}: {p}" for p in pattern.findall(text)
                    if p not in user_made and not (ROOT / p).exists()]
    assert not missing, missing
