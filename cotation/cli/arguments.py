"""Types of the command line's values, shared by every command: a date within the span
cotation handles, a year, a whole number of at least 1 or of 0 or more, ``ID=NUMBER`` items.
Each refuses what it cannot take with one line (exit 2, a usage mistake); digits are ASCII
only."""
from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, Callable, Sequence

from cotation.data.values import ValueParseError, parse_date
from cotation.i18n import _

# the dates a command accepts: windows of months and years are counted back from them, and
# the demandes' own dates are checked against the same span
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
# --year of the flux: it reads the years before N (rotation window, soustractions, droits
# uniques) and builds dates of N; years outside this range are typing mistakes
YEAR_MIN, YEAR_MAX = 1900, 2200


def date_arg(text: str) -> dt.date:
    """``YYYY-MM-DD`` from ``FIRST_DATE`` to ``LAST_DATE``."""
    try:        # the canonical rule: YYYY-MM-DD only (not 20250630 nor 2025-W27-1)
        day = parse_date(text)
    except ValueParseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise argparse.ArgumentTypeError(_("'{text}' is outside the dates cotation handles "
                                           "({first} to {last})").format(
            text=text, first=FIRST_DATE.isoformat(), last=LAST_DATE.isoformat()))
    return day


def year_between(first: int, last: int) -> Callable[[str], int]:
    """A year from ``first`` to ``last``."""
    def year(text: str) -> int:
        t = text.strip()
        if not (t.isascii() and t.isdigit()) or not first <= int(t) <= last:
            raise argparse.ArgumentTypeError(_("expected a year from {first} to {last}, not "
                                               "{text!r}").format(first=first, last=last,
                                                                  text=text))
        return int(t)
    return year


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a number of workers, of jobs, of candidates)."""
    t = text.strip()
    if not (t.isascii() and t.isdigit()) or int(t) < 1:
        raise argparse.ArgumentTypeError(_("expected a whole number of at least 1, not {text!r}")
                                         .format(text=text))
    return int(t)


def count_arg(text: str) -> int:
    """A whole number of 0 or more (a number of dwellings, of demandes, a flux, a seed)."""
    t = text.strip()
    if not (t.isascii() and t.isdigit()):
        raise argparse.ArgumentTypeError(
            _("expected a whole number of 0 or more, not {text!r}").format(text=text))
    return int(t)


def id_numbers(items: Sequence[str], what: str) -> dict[str, Any]:
    """``ID=NUMBER`` items of the option ``--what`` (a trailing ``%`` is allowed) as exact
    fractions of 0 or more, by ID; a usage error for any other item."""
    from fractions import Fraction

    from cotation.cli.outputs import usage_error
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            number = Fraction(value.strip().rstrip("%").strip())
            if number < 0:     # a stock or a rotation rate below 0 has no meaning
                raise ValueError
            out[key.strip()] = number
        except (ValueError, ZeroDivisionError):
            raise usage_error(_("--{option} '{item}': expected ID=NUMBER (0 or more)").format(
                option=what, item=item)) from None
    return out
