"""Jinja2 environments for the documents (statements, flux bilan): shipped templates, an EPCI's
own folder in front of them, autoescape on.

A document's templates ship in the package of the stage that owns its content
(``cotation/info/templates``, ``cotation/flux/templates``). :func:`environment` looks a name up
first in the folder given by the user (``--templates DIR``), then in the shipped ones; the
shipped ones are also reachable as ``shipped/NAME``, so that an override can
``{% extends "shipped/statement.html" %}`` and replace a single block. See docs/templates.md.
"""
from __future__ import annotations

import functools
import html
import os
from pathlib import Path
from typing import Any, Callable

from jinja2 import (
    ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, StrictUndefined,
    TemplateError, TemplateSyntaxError,
)
from markupsafe import Markup

from cotation.i18n import N_, _


def _markup(text: str) -> Markup:
    """Mark already-escaped text safe (``str.__new__`` skips Markup's slower constructor)."""
    return str.__new__(Markup, text)


def escape_text(value: Any) -> Markup:
    """Escape &, <, > and " (not the apostrophe, so that French text stays as it reads).

    Safe between tags and in double-quoted attributes, which is where the shipped templates place
    values; an override must quote its attributes with double quotes too.
    """
    if type(value) is not str:
        if hasattr(value, "__html__"):
            return _markup(value.__html__())
        value = str(value)
    return _markup(value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace('"', "&quot;"))


def escape_all(value: Any) -> Markup:
    """Escape &, <, >, " and ' (:func:`html.escape`)."""
    if hasattr(value, "__html__"):
        return _markup(value.__html__())
    return _markup(html.escape(str(value)))


class TemplatesError(ValueError):
    """A template folder or a template that cannot be used; the message says where."""


@functools.lru_cache(maxsize=16)
def environment(package: str, templates: str | None, escape: Callable[[Any], Markup],
                functions: tuple[tuple[str, Callable], ...] = ()) -> Environment:
    """The environment of one document kind; ``templates`` (a folder) overrides shipped names.

    Cached per arguments: compiled templates are reused across the documents of a run (and of the
    chunks a worker process renders).
    """
    shipped = PackageLoader(package, "templates")
    loaders: list[Any] = [shipped, PrefixLoader({"shipped": shipped})]
    if templates is not None:
        if not os.path.isdir(templates):
            raise TemplatesError(_("templates folder not found: {path}").format(path=templates))
        loaders.insert(0, FileSystemLoader(templates))
    env = Environment(loader=ChoiceLoader(loaders), autoescape=True, finalize=escape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.globals.update(dict(functions), memo=_memo())
    return env


def _memo(limit: int = 4096) -> Callable[..., Markup]:
    """``memo(macro, *args)``: a macro's output, rendered once per distinct arguments (for the
    parts every document of a run repeats, such as a criterion's rule). The macro's output must
    depend on its arguments only. One memo per environment, emptied when it reaches ``limit``."""
    done: dict[tuple, Markup] = {}

    def memo(macro: Any, *args: Any) -> Markup:
        key = (macro.name, args)
        hit = done.get(key)
        if hit is None:
            if len(done) >= limit:
                done.clear()
            hit = done[key] = macro(*args)
        return hit
    return memo


def check_templates(env: Environment, names: tuple[str, ...]) -> None:
    """Compile the given templates (and every template of an override folder) now, so that a
    syntax error is reported once, with its file and line, before any document is written."""
    try:
        for name in names:
            env.get_template(name)
        for loader in env.loader.loaders:       # type: ignore[union-attr]
            if isinstance(loader, FileSystemLoader):
                for name in loader.list_templates():
                    if name.endswith((".html", ".css", ".svg")):
                        env.get_template(name)
    except TemplateSyntaxError as e:
        raise TemplatesError(_("{file}, line {line}: {message}").format(
            file=e.filename or e.name, line=e.lineno, message=jinja_message(e.message))) from None
    except TemplateError as e:
        raise TemplatesError(_("template: {message}").format(
            message=jinja_message(e.message or str(e)))) from None


def render(env: Environment, name: str, **context: Any) -> str:
    """Render a template; an error in an override comes out as a :class:`TemplatesError` that
    names the template file and line when Jinja2 knows them."""
    try:
        return env.get_template(name).render(**context)
    except TemplateSyntaxError as e:
        raise TemplatesError(_("{file}, line {line}: {message}").format(
            file=e.filename or e.name, line=e.lineno, message=jinja_message(e.message))) from None
    except TemplateError as e:
        raise TemplatesError(f"{_where(e)}{jinja_message(e.message or str(e))}") from None


# Jinja2's messages for the mistakes a template author makes most, in the user's language
# (pattern, message with the pattern's groups); anything else is shown as Jinja2 words it.
_JINJA_MESSAGES = (
    (r"Expected an expression, got '(.+)'",
     N_("an expression is expected here, not '{0}'")),
    (r"'(?:[\w.]*\.)?(.+?)(?: object)?' has no attribute '(.+)'",
     N_("'{1}' does not exist in '{0}'")),
    (r"'(.+)' is undefined", N_("'{0}' is not defined")),
    (r"unexpected '(.+)'", N_("unexpected '{0}'")),
    (r"Encountered unknown tag '(.+?)'\..*", N_("unknown tag '{0}'")),
    (r"Unexpected end of template\. Jinja was looking for the following tags: (.+?)\..*",
     N_("the template ends too early: {0} is missing")),
    (r"(?i)no filter named '(.+)'\.?", N_("no filter named '{0}'")),
)


def jinja_message(message: str | None) -> str:
    """A Jinja2 error message in the user's language when it is one of the usual mistakes
    (``_JINJA_MESSAGES``), else as Jinja2 wrote it."""
    import re

    text = str(message or "")
    tokens = {"end of statement block": _("the end of the tag"),
              "end of print statement": _("the end of the expression"),
              "end of template": _("the end of the template")}
    for pattern, words in _JINJA_MESSAGES:
        m = re.fullmatch(pattern, text, flags=re.S)
        if m:
            return _(words).format(*(tokens.get(g, g) for g in m.groups()))
    return text


def _where(e: BaseException) -> str:
    """'file.html, ligne N : ' from the template frames Jinja2 puts in the traceback."""
    tb, found = e.__traceback__, ""
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if path.endswith((".html", ".css", ".svg")):
            found = _("{file}, line {line}: ").format(file=Path(path).name, line=tb.tb_lineno)
        tb = tb.tb_next
    return found
