"""The bytes of a file scanned before it is split (:mod:`cotation.data.split`): where a byte
occurs, whether a carriage return ends every line it appears on, and whether every quote belongs
to a quoted cell on one line (then pyarrow and ``csv`` split every line alike)."""
from __future__ import annotations

import mmap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.parallel import map_columns

_CR, _LF = 13, 10


def positions(arr: np.ndarray, byte: int, block: int = 1 << 22) -> np.ndarray:
    """Positions of ``byte`` in ``arr``, block by block (no temporary the size of the file)."""
    parts = [np.flatnonzero(arr[s:s + block] == byte) + s for s in range(0, arr.size, block)]
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def scan(arr: np.ndarray, quote: int | None, block: int = 1 << 22, *,
          data: bytes | mmap.mmap | None = None) -> np.ndarray | bool | None:
    """The bytes scanned once, block by block on the column threads (numpy releases the GIL
    there; the scan would otherwise leave one core idle before pyarrow's split): False when
    they hold a carriage return that does not end a line (``\\r\\n`` ends one: pyarrow and
    csv both read it as a line end), else the positions of ``quote`` (None without one).

    ``data``, the same bytes as ``bytes`` or ``mmap``: first asked (``find``, C's
    ``memchr``) whether they hold a carriage return or a quote at all. Most files hold
    neither: the answer is then known without the block scan (300,000 demandes, 64 MB: two
    ``find`` 5-11 ms against 28-61 ms for the scan on two threads, 2026-12-06)."""
    n = arr.size
    if data is not None and data.find(b"\r") < 0:
        if quote is None:
            return None
        if data.find(bytes((quote,))) < 0:
            return np.empty(0, np.int64)

    def one(start: int) -> tuple[bool, np.ndarray | None]:
        blk = arr[start:start + block]
        cr = np.flatnonzero(blk == _CR)
        if cr.size:
            after = cr + start + 1         # the byte after each carriage return
            if after[-1] >= n or (arr[after] != _LF).any():
                return True, None
        return False, None if quote is None else np.flatnonzero(blk == quote) + start

    parts = map_columns(one, range(0, arr.size, block), arr.size // 100)
    if any(cr for cr, _q in parts):
        return False
    if quote is None:
        return None
    return np.concatenate([q for _cr, q in parts]) if parts else np.empty(0, np.int64)


def quoted_cells(data: bytes | mmap.mmap, delimiter: str, quote: str,
                  qpos: np.ndarray | None = None) -> bool:
    """Whether every quote of ``data`` (each carriage return in it followed by a line feed)
    belongs to a quoted cell that follows RFC 4180 on one line: ``"..."`` starting a line or
    after a delimiter, ending one (``\\n`` or ``\\r\\n``) or before a delimiter, no newline
    inside, inner quotes doubled. Then pyarrow and csv split
    every line alike and a line is a record (what :func:`cotation.data.split._well_formed` checks line by line,
    here on the quotes alone: no line positions needed).

    Quotes pair up in order; in a well-formed file each pair either opens a cell (the byte
    before is a delimiter or a newline, or it is the first byte) or follows the previous pair
    at once (a doubled quote), and either closes a cell (the byte after is a delimiter, a
    newline or the carriage return before one, or it is the last byte) or is followed at once
    by the next pair. Conversely, pairs that satisfy this and hold no newline make cells of
    that shape."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if qpos is None:
        qpos = positions(arr, ord(quote))
    if qpos.size & 1:
        return False
    first, second = qpos[0::2], qpos[1::2]
    # no newline between the quotes of a pair (the gaps between pairs are not looked at)
    offsets = np.empty(qpos.size + 1, dtype=np.int64)
    offsets[:-1], offsets[-1] = qpos, qpos[-1]
    spans = pa.Array.from_buffers(pa.large_binary(), qpos.size,
                                  [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    pairs = spans.take(pa.array(np.arange(0, qpos.size, 2)))   # a copy of the pairs' bytes only
    if pc.any(pc.greater(pc.count_substring(pairs, b"\n"), 0)).as_py():
        return False
    d, n = ord(delimiter), arr.size
    before = arr[np.maximum(first - 1, 0)]
    opens = (first == 0) | (before == d) | (before == _LF)
    opens[1:] |= first[1:] - 1 == second[:-1]
    after = arr[np.minimum(second + 1, n - 1)]
    closes = (second == n - 1) | (after == d) | (after == _LF) | (after == _CR)
    closes[:-1] |= second[:-1] + 1 == first[1:]
    return bool(opens.all() and closes.all())
