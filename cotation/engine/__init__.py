"""Back ends over the grid IR: they turn demandes into scores and ranks.

``interpreter`` is the reference (the specification in code, explains every point);
``compiled`` generates Numba kernels from the IR and is tested to agree with it exactly.
Both return a :class:`~cotation.engine.scoring.ScoreTable`; ``ranking`` orders demandes within
a commune; ``explain`` turns one demande's outcomes into lines a person reads.

Public surface: :func:`score` (choose an engine by name), :data:`ENGINES`, ``ScoreTable``.
"""
from cotation.engine.run import DEFAULT_ENGINE, ENGINES, score
from cotation.engine.scoring import ScoreTable

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ScoreTable", "score"]
