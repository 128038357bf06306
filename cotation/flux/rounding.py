"""Exact apportionment: largest remainder (Hamilton) with the spec's tie-breaks.

>>> largest_remainder(758, {"EP": Fraction(25), "EA": Fraction(5), "AL": Fraction(35),
...     "C": Fraction(12), "D": Fraction(3), "B": Fraction(20)})
{'EP': 189, 'EA': 38, 'AL': 265, 'C': 91, 'D': 23, 'B': 152}
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Hashable, Mapping, TypeVar

K = TypeVar("K", bound=Hashable)


def largest_remainder(total: int, weights: Mapping[K, Fraction | int],
                      tiebreak: Callable[[K], tuple] | None = None) -> dict[K, int]:
    """Split the integer ``total`` in proportion to ``weights`` (any positive scale).

    Each key gets the floor of its exact quota, then the leftover units go to the largest
    remainders. Equal remainders: larger weight first, then ``tiebreak(key)`` ascending
    (default: the key itself). The result sums to ``total`` exactly.
    """
    if total < 0:
        raise ValueError("cannot apportion a negative total")
    w = {k: Fraction(v) for k, v in weights.items()}
    if any(v < 0 for v in w.values()):
        raise ValueError("negative weight")
    wsum = sum(w.values(), Fraction(0))
    if not w:
        if total:
            raise ValueError("nothing to apportion to")
        return {}
    if wsum == 0:
        if total:
            raise ValueError("all weights are zero")
        return {k: 0 for k in w}
    quotas = {k: total * v / wsum for k, v in w.items()}
    out = {k: q.numerator // q.denominator for k, q in quotas.items()}
    left = total - sum(out.values())
    tb = tiebreak or (lambda k: (k,))
    order = sorted(w, key=lambda k: (-(quotas[k] - out[k]), -w[k], tb(k)))
    for k in order[:left]:
        out[k] += 1
    return out


def frac_str(x: Fraction) -> str:
    """Exact text of a fraction: '3/8', '-2', used in audit records."""
    return str(Fraction(x))


def parse_frac(text: str) -> Fraction:
    return Fraction(text)


def pct_display(x: Fraction, digits: int = 4) -> str:
    """A ratio as a percentage rounded for display only (half up)."""
    scaled = Fraction(x) * 100 * 10 ** digits
    n = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    s = f"{abs(n) // 10 ** digits}.{abs(n) % 10 ** digits:0{digits}d}" if digits else str(abs(n))
    return ("-" if n < 0 else "") + s


def dec_display(x: Fraction, digits: int = 4) -> str:
    """A fraction as a decimal rounded half up, for display."""
    scaled = Fraction(x) * 10 ** digits
    n = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    s = f"{abs(n) // 10 ** digits}.{abs(n) % 10 ** digits:0{digits}d}" if digits else str(abs(n))
    return ("-" if n < 0 else "") + s
