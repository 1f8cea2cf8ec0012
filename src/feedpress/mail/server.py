"""Serving the unsubscribe app on waitress, a production WSGI server.

waitress reads requests on one event loop and runs the app on a pool of
threads, so a client that sends half a request, or a body shorter than its
Content-Length, holds only its own connection until `CHANNEL_TIMEOUT`
closes it; a malformed Content-Length gets 400 from waitress before the
app sees it. Binding errors (a port in use, a host that is not this
machine's) become messages here, and Ctrl-C or SIGTERM stop the server
cleanly.
"""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from feedpress.errors import FeedpressError

CHANNEL_TIMEOUT = 10  # seconds a connection may stay idle or half-sent
CONNECTIONS = 1000  # open at once: a cheap socket each; past it, new ones wait
MAX_HEADER_BYTES = 16_384
MAX_BODY_BYTES = 16_384


def serve(app: Callable[..., Any], host: str, port: int, threads: int,
          ready: Callable[[str], None]) -> None:
    """Serve `app` until Ctrl-C or SIGTERM; `ready` gets the URL once it listens."""
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address as URLs write it
    server = make_server(app, host, port, threads)
    if threading.current_thread() is threading.main_thread():
        for stop_signal in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, _interrupt)
    try:
        ready(f"http://{_shown_host(host)}:{server.effective_port}/unsubscribe")
        server.run()  # returns on KeyboardInterrupt, having closed every connection
    except KeyboardInterrupt:  # one that came before the loop ran
        server.close()


def make_server(app: Callable[..., Any], host: str, port: int, threads: int) -> Any:
    """A waitress server bound to `host`:`port` (0: any free port), not yet running:
    `run()` serves until interrupted; `stop` ends it from another thread."""
    from waitress.server import create_server

    try:
        return create_server(
            app, host=host, port=port, threads=threads, channel_timeout=CHANNEL_TIMEOUT,
            max_request_header_size=MAX_HEADER_BYTES, max_request_body_size=MAX_BODY_BYTES,
            expose_tracebacks=False, ident="feedpress", clear_untrusted_proxy_headers=True,
            connection_limit=CONNECTIONS)
    except OSError as exc:
        raise FeedpressError(_cannot_listen(host, port, exc)) from None
    except ValueError as exc:  # waitress refuses what it cannot parse as a host
        raise FeedpressError(f"cannot listen on {host}:{port}: {exc}") from None


def stop(server: Any) -> None:
    """Stop a server that `run()` serves in another thread: closing it from outside its
    event loop pulls its sockets from under `select`, so the loop closes it itself."""
    server.trigger.pull_trigger(server.close)


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {host}:{port}: the port is in use (another "
                "serve-unsubscribe?); choose another with --port")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
        return f"cannot listen on {host}:{port}: {what}"
    return f"cannot listen on {host}:{port}: {what}; --host takes an address of this machine"


def _shown_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
