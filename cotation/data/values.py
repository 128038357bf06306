"""Reading and writing one canonical value: the rules every source follows.

A cell is text in the canonical form (CSV) or a value from a typed source; :func:`parse_cell`
turns the text into the typed value of its column (``None`` for missing, ``datetime.date`` for
dates, ``str`` for codes, ``frozenset`` for sets of codes, ``tuple`` for localisations) or raises
:class:`ValueParseError` with a reason a person can read; :func:`format_cell` is its inverse.
The grid front end parses literal dates and commune codes with the same functions.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from cotation.data.schema import Column, Kind
from cotation.i18n import _

MULTI_SEPARATOR = "|"
# The words read as a boolean (lower case), by every reader and encoder.
TRUE_WORDS = frozenset({"true", "1", "oui", "o", "yes", "vrai"})
FALSE_WORDS = frozenset({"false", "0", "non", "n", "no", "faux"})


class ValueParseError(ValueError):
    """A cell that cannot be read as its column's type."""


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What a number may look like: ASCII digits only (int() and float() also take '١٢', '1_0',
# 'inf' and 'nan', which are not numbers in a data file).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INSEE = re.compile(r"(?:[0-9]{2}|2A|2B)[0-9]{3}")
# Integer columns that count people or events: a negative value is a data error.
COUNT_COLUMNS = frozenset({"nb_personnes", "nb_adultes", "nb_enfants", "nb_personnes_handicap",
                           "nb_personnes_logement_actuel", "nb_refus_adaptes"})
# Amounts beyond this are data errors, not incomes or rents; bounding them keeps every score
# exactly representable in integer hundredths.
MAX_MAGNITUDE = 1e12


def parse_date(text: str) -> dt.date:
    # fromisoformat alone would also take 20240105 or 2024-W01-1: the canonical form is strict.
    if not _DATE.fullmatch(text):
        raise ValueParseError(_("'{text}' is not a date YYYY-MM-DD").format(text=text))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueParseError(_("'{text}' is not a date YYYY-MM-DD").format(text=text)) from None


def whole_number(text: str) -> int:
    """A whole number written in ASCII digits (``3.0`` too: how many tools write whole numbers
    in a column with gaps); ValueParseError otherwise."""
    if not _NUMBER.fullmatch(text):
        raise ValueParseError(_("'{text}' is not a whole number").format(text=text))
    try:
        return int(text)
    except ValueError:
        f = float(text)
        if not (math.isfinite(f) and f.is_integer()):
            raise ValueParseError(_("'{text}' is not a whole number").format(text=text)) from None
        return int(f)


def parse_cell(column: Column, text: str | None) -> Any:
    """Parse one canonical CSV cell; raise ValueParseError with a reason an agent can read."""
    if text is None:
        text = ""
    text = text.strip()
    kind = column.kind
    if kind is Kind.CODESET:
        if not text:
            return frozenset()
        values = [v.strip() for v in text.split(MULTI_SEPARATOR) if v.strip()]
        if column.enum is not None:
            bad = [v for v in values if v not in column.enum]
            if bad:
                raise ValueParseError(_("'{text}' is not a value of {column}").format(text=bad[0], column=column.name))
        return frozenset(values)
    if kind is Kind.COMMUNES:
        if not text:
            return ()
        # Kept as written, duplicates included: rang is the position in this list, and the
        # scorer counts a commune listed twice once, at its first rang.
        communes = tuple(v.strip() for v in text.split(MULTI_SEPARATOR) if v.strip())
        for v in communes:
            check_insee(column, v)
        return communes
    if not text:
        return None
    if kind is Kind.BOOL:
        low = text.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise ValueParseError(_("'{text}' is not a boolean (true/false)").format(text=text))
    if kind is Kind.INT:
        value = whole_number(text)
        check_range(column, value, text)
        return value
    if kind is Kind.DECIMAL:
        if not _NUMBER.fullmatch(text):
            raise ValueParseError(_("'{text}' is not a decimal number (dot separator)").format(text=text))
        value = float(text)
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise ValueParseError(_("'{text}' is not a finite number in range").format(text=text))
        return value
    if kind is Kind.DATE:
        return parse_date(text)
    if kind is Kind.CODE:
        if column.enum is not None and text not in column.enum:
            raise ValueParseError(_("'{text}' is not a value of {column}").format(text=text, column=column.name))
        return text
    if kind is Kind.COMMUNE:
        check_insee(column, text)
        return text
    return text  # TEXT


def is_number_text(text: str) -> bool:
    """Whether ``text`` is written like a number: ASCII digits, optional sign, dot, exponent."""
    return _NUMBER.fullmatch(text) is not None


def grouped_number_pattern(thousands: str, decimal: str) -> str:
    """Anchored pattern (Python and RE2 alike) of a number whose ``thousands`` separator
    groups its digits by three (``1 234 567,5``): a separator anywhere else (``1.5`` where
    '.' separates thousands) is not one, and the cell is not read as a number."""
    return f"^[+-]?[0-9]{{1,3}}(?:[{thousands}][0-9]{{3}})+(?:[{decimal}][0-9]*)?$"


def check_range(column: Column, value: float, text: str) -> None:
    """Magnitudes beyond :data:`MAX_MAGNITUDE`, and negative counts, are data errors."""
    if abs(value) > MAX_MAGNITUDE:
        raise ValueParseError(_("'{text}' is out of range").format(text=text))
    if value < 0 and column.name in COUNT_COLUMNS:
        raise ValueParseError(_("'{text}' is negative: {column} is a count").format(text=text, column=column.name))


def is_insee_text(text: str) -> bool:
    """Whether ``text`` is an INSEE commune code: five ASCII characters, digits, or 2A/2B then
    three digits for Corsica."""
    return _INSEE.fullmatch(text) is not None


def check_insee(column: Column, text: str) -> None:
    if not is_insee_text(text):
        raise ValueParseError(_("'{text}' is not an INSEE commune code in {column}").format(text=text, column=column.name))


def format_cell(column: Column, value: Any) -> str:
    """Inverse of :func:`parse_cell` (canonical text form)."""
    kind = column.kind
    if kind is Kind.CODESET:
        order = column.enum or tuple(sorted(value))
        return MULTI_SEPARATOR.join(v for v in order if v in value) if value else ""
    if kind is Kind.COMMUNES:
        return MULTI_SEPARATOR.join(value)
    if value is None:
        return ""
    if kind is Kind.BOOL:
        return "true" if value else "false"
    if kind is Kind.DECIMAL:
        return repr(float(value))
    if kind is Kind.DATE:
        return value.isoformat()
    return str(value)
