"""``python -m cotation``: the same as the ``cotation`` command."""
import sys

from cotation.cli import run

sys.exit(run())
