"""``cotation studio``: a local web application for grid authors.

``session`` holds what one studio serves (the grid file, the demandes read once, the grid as it
was when opened) and computes every pane as JSON; ``app`` is the Starlette application (the
security rules: loopback Host, same Origin for every state-changing request, only the files
given on the command line); ``server`` binds 127.0.0.1 and runs uvicorn. The page and its
bundled editor (CodeMirror 6, built from ``studio-ui/``) are package data in ``static/``.
"""
