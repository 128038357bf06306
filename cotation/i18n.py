"""Messages for users: French by default, English on request, from gettext catalogues.

Source strings are English (the code's language) and marked with ``_()`` (translated where
they are used) or ``N_()`` (marked for extraction, translated later). The French catalogue is
``cotation/locale/fr/LC_MESSAGES/cotation.po``, compiled to ``cotation.mo`` beside it (package
data); ``tools/i18n.sh`` extracts, updates and compiles them with Babel.

The language is read from the environment at each call (no global state): ``COTATION_LANG``
first, then ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (the first one set); a value
starting with ``en`` gives English, anything else (``fr_FR.UTF-8``, ``C.UTF-8``, nothing) French.

The diagnostic codes (``unknown-name``, ``expr-syntax``…) are an interface and never translated.
"""
from __future__ import annotations

import argparse
import functools
import gettext
import io
import os
import re
import sys
from importlib import resources
from typing import Mapping

DOMAIN = "cotation"
_LANG_VARIABLES = ("COTATION_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def language(environ: Mapping[str, str] | None = None) -> str:
    """``"fr"`` or ``"en"``, from the environment (see the module docstring)."""
    env = os.environ if environ is None else environ
    for name in _LANG_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return "en" if value.split(":")[0].lower().startswith("en") else "fr"
    return "fr"


@functools.lru_cache(maxsize=4)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (English is the source language: no catalogue)."""
    if lang == "en":
        return gettext.NullTranslations()
    mo = resources.files("cotation") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    return gettext.GNUTranslations(io.BytesIO(mo.read_bytes()))


def _(message: str) -> str:
    """``message`` in the user's language."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; translate it later with ``_()``."""
    return message


def error_line(message: str) -> str:
    """``erreur : message`` (``error: message`` in English): the one prefix of every error."""
    return _("error: {message}").format(message=message)


def warning_line(message: str) -> str:
    return _("warning: {message}").format(message=message)


# --------------------------------------------------------------------------- argparse in French

# argparse's own messages (Python 3.11+), translated after the fact: argparse builds them with
# its private gettext domain, so they are matched here against their English templates.
_ARGPARSE_MESSAGES = (
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("expected %s argument"),
    N_("expected %s arguments"),
    N_("invalid %(type)s value: %(value)r"),
    N_("not allowed with argument %s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("one of the arguments %s is required"),
    N_("ignored explicit argument %r"),
)
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[sr]")


@functools.lru_cache(maxsize=None)
def _template_regex(template: str) -> re.Pattern:
    out, last, i = [], 0, 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[last:m.start()]))
        out.append(f"(?P<{m.group(1) or f'_{i}'}>.+?)")
        last, i = m.end(), i + 1
    out.append(re.escape(template[last:]))
    return re.compile("".join(out) + r"\Z", re.S)


def translate_argparse(message: str) -> str:
    """An argparse error message in the user's language (unchanged when not recognised)."""
    for template in _ARGPARSE_MESSAGES:
        m = _template_regex(template).match(message)
        if m is None:
            continue
        values = m.groupdict()
        if "message" in values:
            values["message"] = translate_argparse(values["message"])
        translated = _PLACEHOLDER.sub(lambda m: m.group(0)[:-1] + "s", _(template))
        if "%(" in template:
            return translated % values
        if values:
            return translated % tuple(values.values())
        return translated
    return message


# The placeholder shown for an option's value when the option names none itself (argparse's
# default is the destination in capitals: TODAY, MAPPING...), by destination.
_METAVARS = {
    "today": N_("DATE"), "date": N_("DATE"), "start": N_("DATE"), "end": N_("DATE"),
    "grid": N_("GRID"), "mapping": N_("FILE"), "rejects": N_("FILE"),
    "audit": N_("FILE"), "conventions": N_("FILE"), "logements": N_("FILE"),
    "evenements": N_("FILE"), "scores": N_("FILE"), "table": N_("FILE"), "commune_names": N_("FILE"),
    "attributions": N_("FILE"), "year": N_("YEAR"), "seed": "N", "jobs": "N", "dwellings": "N",
    "flux": "N", "departement": N_("DEPARTEMENT"), "epci": "SIREN", "format": N_("FORMAT"),
    "years": "N", "n_attributions": "N",
}


class HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)

    def start_section(self, heading):
        # argparse writes "heading:"; French puts a space before the colon ("options :")
        if heading:
            heading = _("{heading}:").format(heading=heading)[:-1]
        super().start_section(heading)

    def _get_default_metavar_for_optional(self, action):
        known = _METAVARS.get(action.dest)
        return _(known) if known else super()._get_default_metavar_for_optional(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with its words in the user's language and one-line usage errors (exit 2)."""

    def __init__(self, *args, **kwargs):
        add_help = kwargs.pop("add_help", True)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=_("show this help message and exit"))

    def error(self, message: str):
        hint = _("see '{prog} --help'").format(prog=self.prog)
        self.exit(2, f"{self.prog}: {error_line(translate_argparse(message))} ({hint})\n")


def print_error(message: str, file=None) -> None:
    """Print ``erreur : message`` on stderr."""
    print(error_line(message), file=file or sys.stderr)
