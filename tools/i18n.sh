#!/usr/bin/env bash
# Refresh the French catalogue: extract the marked messages, merge them into the .po, compile
# the .mo shipped with the package. Needs Babel (pip install babel). Run from the repository root.
set -euo pipefail
pybabel extract --no-location --sort-output --omit-header -k _ -k N_ -k msg -k ngettext:1,2 \
  -o cotation/locale/cotation.pot cotation sne_adapters
if [ -f cotation/locale/fr/LC_MESSAGES/cotation.po ]; then
  pybabel update --no-fuzzy-matching -l fr -D cotation \
    -i cotation/locale/cotation.pot -d cotation/locale
else
  pybabel init -l fr -D cotation -i cotation/locale/cotation.pot -d cotation/locale
fi
pybabel compile --use-fuzzy=false -l fr -D cotation -d cotation/locale 2>/dev/null \
  || pybabel compile -l fr -D cotation -d cotation/locale
