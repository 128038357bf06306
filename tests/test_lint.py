"""Static checks reported as warnings with their location."""
from __future__ import annotations

from cotation.grid import load_grid

from _support import grid_text, write_grid


def warnings(tmp_path, extra):
    grid = load_grid(write_grid(tmp_path, grid_text(extra)))
    return grid.warnings


def test_band_gap_names_the_interval(tmp_path):
    ws = warnings(tmp_path, """\
      - id: effort
        label: "Taux d'effort"
        bands:
          of: taux_effort
          steps:
            - {from: 0.3, to: 0.4, points: 10}
            - {from: 0.5, points: 25}
    """)
    gap = [w for w in ws if w.code == "band-gap"]
    assert len(gap) == 1 and "[0.4, 0.5)" in gap[0].message and gap[0].criterion == "effort"
    assert gap[0].span.line == 23 and gap[0].severity == "warning"


def test_never_met_from_enumerations_and_bounds(tmp_path):
    ws = warnings(tmp_path, """\
      - id: contradiction
        label: "Impossible"
        when: "situation_logement == 'hotel' and situation_logement in {'sans_abri', 'squat'}"
        points: 5
      - id: bornes
        label: "Bornes"
        when: "nb_personnes > 5 and nb_personnes <= 2"
        points: 5
      - id: possible
        label: "Possible"
        when: "nb_personnes between 2 and 5 and situation_logement not in {'hotel'}"
        points: 5
    """)
    never = {w.criterion for w in ws if w.code == "never-met"}
    assert never == {"contradiction", "bornes"}


def test_shadowed_members(tmp_path):
    ws = warnings(tmp_path, """\
      - id: a
        label: "A"
        points: 10
      - id: b
        label: "B"
        when: "nb_personnes > 2"
        points: 20
      - id: c
        label: "C"
        when: "nb_personnes > 3"
        points: 5
      - id: d
        label: "D"
        when: "nb_personnes > 3"
        points: 4
    groups:
      - id: g_first
        policy: first
        members: [a, b]
      - id: g_max
        policy: max
        members: [c, d]
    """)
    shadowed = sorted((w.criterion, w.message.split("'")[1]) for w in ws if w.code == "shadowed-member")
    assert shadowed == [("g_first", "b"), ("g_max", "d")]


def test_clean_grid_has_no_warnings(tmp_path):
    assert warnings(tmp_path, "") == ()
