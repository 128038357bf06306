"""One CSV record read as ``csv.reader`` reads it, whatever the length of its cells.

``csv.reader`` stops at a cell over its field limit and would start its next record on the next
line, inside a cell spanning lines. The splitter (:mod:`cotation.data.split`) then reads that
record here, to its end, and starts csv again after it: the record is one reject and nothing
after it is lost.
"""
from __future__ import annotations

import re


def field_pattern(delimiter: str, quote: str | None) -> re.Pattern:
    """One cell as ``csv.reader`` reads it (:func:`_reader`'s dialects: quotes doubled inside
    a quoted cell, no escape character, not strict), without a field limit: a quoted cell
    (``q``), to its closing quote, then any text up to a delimiter or a line end (``t``), or
    to the end of the text when the quote is never closed; else text up to a delimiter or a
    line end (``u``). Possessive repeats: linear in the length of the cell."""
    d = re.escape(delimiter)
    plain = f"(?P<u>[^{d}\\r\\n]*+)"
    if quote is None:
        return re.compile(plain)
    q = re.escape(quote)
    return re.compile(f"{q}(?P<q>(?:[^{q}]++|{q}{q})*+)(?:{q}(?P<t>[^{d}\\r\\n]*+)|\\Z)|{plain}")


def record_at(text: str, start: int, delimiter: str, quote: str | None
               ) -> tuple[list[str], int]:
    """The cells ``csv.reader`` reads from the record at ``start`` (the start of a line)
    whatever their length, and where the next record starts (after the record's line end, or
    the end of the text). A line end there is a blank line: no cell."""
    if text.startswith(("\r", "\n"), start):
        return [], start + (2 if text.startswith("\r\n", start) else 1)
    if quote is not None and quote in "\r\n":
        quote = None        # csv looks for a line end first: this quote opens no cell
    field = field_pattern(delimiter, quote)
    cells = []
    pos = start
    while True:
        m = field.match(text, pos)
        inner = None if quote is None else m["q"]
        if inner is not None:
            cells.append(inner.replace(quote + quote, quote) + (m["t"] or ""))
        else:
            cells.append(m["u"])
        pos = m.end()
        if not text.startswith(delimiter, pos):
            break
        if delimiter in "\r\n":
            # a line end: the record's, except right after a closing quote, where csv looks
            # for the delimiter first (then the line ends an empty cell)
            if inner is not None and m["t"] == "":
                cells.append("")
            break
        pos += 1
    if text.startswith("\r\n", pos):
        return cells, pos + 2
    return cells, pos + (pos < len(text))       # after "\r" or "\n", or at the end


def line_count(text: str, start: int, end: int) -> int:
    """The lines of ``text[start:end]`` (from a line's start to a line's end or the end of
    the text) as ``io.StringIO(text, newline="")`` yields them: a line ends at "\r\n",
    "\r" or "\n"."""
    ends = text.count("\n", start, end) + text.count("\r", start, end) \
        - text.count("\r\n", start, end)
    return ends + (end > start and text[end - 1] not in "\r\n")
