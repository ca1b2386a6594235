"""A real HTTP server on loopback for fetch and crawl tests (no internet in tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    """What a route answers: status, headers and body (or a generator of chunks)."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})


Handler = Callable[[BaseHTTPRequestHandler], Response]


class _QuietServer(ThreadingHTTPServer):
    """Keeps errors of its handler threads (a client hanging up mid-answer) instead of
    printing them: a traceback on stderr would land in whatever a test captures there."""

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], errors: list[str]
    ) -> None:
        super().__init__(address, handler)
        self.errors = errors

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        self.errors.append(repr(sys.exc_info()[1]))


class LoopbackServer:
    """``server.route("/a", Response(200, b"<p>hi</p>"))``; ``server.url("/a")``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        routes = self.routes
        requests = self.requests

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
            # algorithm and the client's delayed ACK hold the body back ~40 ms a request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _answer(self) -> None:
                requests.append((self.command, self.path, dict(self.headers)))
                route = routes.get(self.path) or routes.get(self.path.split("?")[0])
                if route is None:
                    response = Response(404, b"not found", {"Content-Type": "text/plain"})
                elif callable(route):
                    response = route(self)
                else:
                    response = route
                self.send_response(response.status)
                headers = dict(response.headers)
                if isinstance(response.body, bytes):
                    headers.setdefault("Content-Length", str(len(response.body)))
                    chunks: Iterable[bytes] = [response.body]
                else:
                    headers.setdefault("Connection", "close")
                    chunks = response.body
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command == "HEAD":
                    return
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if "Content-Length" not in headers:
                    self.close_connection = True

            do_GET = _answer
            do_HEAD = _answer
            do_POST = _answer

        self.errors: list[str] = []
        self._server = _QuietServer((host, 0), RequestHandler, self.errors)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, response: Response | Handler) -> str:
        """Serve ``response`` at ``path``; returns the full URL."""
        self.routes[path] = response
        return self.url(path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
