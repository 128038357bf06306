"""Serving the studio on 127.0.0.1 with uvicorn; Ctrl-C stops it cleanly."""
from __future__ import annotations

import socket
import threading
import webbrowser
from typing import Callable

from cotation.studio.session import Session

HOST = "127.0.0.1"


def bind(port: int) -> socket.socket:
    """A listening TCP socket on the loopback address only (``port`` 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(64)
    return sock


def make_server(session: Session, sock: socket.socket):
    """A uvicorn server for ``session`` on the bound ``sock`` (not started)."""
    import uvicorn

    from cotation.studio.app import build_app
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(session, HOST, port), log_level="warning", lifespan="off",
                            access_log=False, server_header=False)
    return uvicorn.Server(config)


def serve(session: Session, port: int, *, open_browser: bool = True,
          announce: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C; opens the page in the user's browser unless ``open_browser`` is
    false."""
    sock = bind(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    server = make_server(session, sock)
    announce(url)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
