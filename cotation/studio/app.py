"""The studio's Starlette application: the page, its assets and the JSON endpoints.

Security rules (every request): the ``Host`` header must name the loopback address the server
listens on (no DNS rebinding); every state-changing request (anything but GET/HEAD/OPTIONS)
must carry the server's own ``Origin`` (403 otherwise, a missing Origin included); assets come
only from the package's ``static`` folder, by fixed names; the only file read on request is the
grid given on the command line, and the only files written are that grid and its ``.bak``.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cotation.i18n import _
from cotation.studio.session import Session, StudioError
from cotation.studio.words import completion_words

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ASSETS = {"": ("index.html", "text/html; charset=utf-8"),
          "app.js": ("app.js", "text/javascript; charset=utf-8"),
          "editor.js": ("editor.js", "text/javascript; charset=utf-8"),
          "style.css": ("style.css", "text/css; charset=utf-8"),
          "THIRD_PARTY_LICENSES.txt": ("THIRD_PARTY_LICENSES.txt", "text/plain; charset=utf-8")}
HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-src 'self' data:; "
                                      "img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                      "frame-ancestors 'none'",
           "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}
MAX_BODY = 5 * 1024 * 1024


def _refuse(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


class Guard:
    """ASGI middleware enforcing the Host and Origin rules before any route runs."""

    def __init__(self, app, hosts: set[str], origins: set[str]):
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            if headers.get("host", "") not in self.hosts:
                await _refuse(_("this server answers on its loopback address only"), 403)(scope, receive, send)
                return
            if scope["method"] not in SAFE_METHODS and headers.get("origin") not in self.origins:
                await _refuse(_("request refused: it does not come from the studio's page"), 403)(
                    scope, receive, send)
                return
        await self.app(scope, receive, send)


def _asset(name: str) -> Response:
    filename, media = ASSETS[name]
    data = (resources.files("cotation.studio") / "static" / filename).read_bytes()
    return Response(data, media_type=media, headers=HEADERS)


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read at most ``MAX_BODY`` bytes far (a declared or an actual
    length beyond is refused before the rest is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise StudioError(_("the grid text is too large"), 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise StudioError(_("the grid text is too large"), 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):   # RecursionError: deep nesting
        raise StudioError(_("the request is not valid JSON")) from None
    if not isinstance(data, dict):
        raise StudioError(_("the request is not valid JSON"))
    return data


def build_app(session: Session, host: str, port: int) -> Starlette:
    """The application for ``session``, served at ``http://host:port``."""

    words = completion_words()      # computed once per application

    def endpoint(fn: Callable[[dict], Any]):
        async def handler(request: Request) -> Response:
            try:
                data = await _body(request) if request.method == "POST" else dict(request.query_params)
                # Scoring is CPU work: run it off the event loop (one request at a time per page).
                result = await run_in_threadpool(fn, data)
            except StudioError as exc:
                return _refuse(str(exc), exc.status)
            except OSError as exc:
                return _refuse(_("file error: {error}").format(error=exc.strerror or exc), 500)
            except Exception as exc:    # a bug, not the author's mistake: one French line, no traceback
                return _refuse(_("internal error ({kind}); please report it").format(
                    kind=type(exc).__name__), 500)
            return JSONResponse(result, headers=HEADERS)
        return handler

    def state(_data: dict) -> dict:
        files = session.allowed_files()
        return {"grid": {"name": session.grid_path.name, "path": str(session.grid_path),
                         "text": session.read_file("grid")},
                "demandes": {"name": files["demandes"].name, "count": len(session.table)},
                "attributions": files["attributions"].name if "attributions" in files else None,
                "reference": files["reference"].name if "reference" in files else None,
                "today": session.today.isoformat(), "opened_valid": session.opened is not None,
                "words": words}

    def read(data: dict) -> dict:
        return {"text": session.read_file(str(data.get("path", "")))}

    routes = [
        Route("/", lambda r: _asset(""), methods=["GET"]),
        *[Route(f"/static/{n}", (lambda n: lambda r: _asset(n))(n), methods=["GET"]) for n in ASSETS if n],
        Route("/api/state", endpoint(state), methods=["GET"]),
        Route("/api/file", endpoint(read), methods=["GET"]),
        Route("/api/validate", endpoint(lambda d: session.validate(d.get("text"))), methods=["POST"]),
        Route("/api/preview", endpoint(lambda d: session.preview(d.get("text"))), methods=["POST"]),
        Route("/api/explain", endpoint(lambda d: session.explain(d.get("text"), str(d.get("numero_unique", "")))),
              methods=["POST"]),
        Route("/api/publication", endpoint(lambda d: session.publication(d.get("text"))), methods=["POST"]),
        Route("/api/save", endpoint(lambda d: session.save(d.get("text"))), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    hosts = {f"{host}:{port}", f"localhost:{port}"}
    origins = {f"http://{h}" for h in hosts}
    return Guard(app, hosts, origins)
