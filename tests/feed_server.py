"""A real HTTP server on a loopback port, serving scripted responses for ingestion tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional, Union

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0            # before the headers
    drip: Optional[float] = None  # seconds between 1 KB chunks of the body


Route = Union[Response, Callable[["BaseHTTPRequestHandler"], Response]]


class FeedServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path.split("?")[0])
                response = route(self) if callable(route) else route
                if response is None:
                    response = Response(404, b"not found")
                if response.delay:
                    time.sleep(response.delay)
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in response.headers and response.drip is None:
                        self.send_header("Content-Length", str(len(response.body)))
                    if response.drip is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if response.drip is None:
                        self.wfile.write(response.body)
                        return
                    for start in range(0, len(response.body), 1024):
                        self.wfile.write(response.body[start:start + 1024])
                        self.wfile.flush()
                        time.sleep(response.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should with a hostile server
                self.close_connection = response.drip is not None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve_file(self, path: str, name: str, **headers: str) -> None:
        content_type = headers.pop("content_type", "application/rss+xml")
        self.routes[path] = Response(200, (FIXTURES / name).read_bytes(), {"Content-Type": content_type, **headers})

    def serve_generated(self, path: str, title: str, items: list[tuple[str, str, str]], delay: float = 0.0) -> None:
        """Serve an RSS feed built from (title, link, description) items written by the test."""
        self.routes[path] = Response(200, rss_feed(title, items), {"Content-Type": "application/rss+xml"},
                                     delay=delay)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?")[0] == path)

    def start(self) -> "FeedServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def rss_feed(title: str, items: list[tuple[str, str, str]]) -> bytes:
    """A small RSS 2.0 document; the test supplies every text, so nothing is copied from real news."""
    from xml.sax.saxutils import escape

    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<description>{escape(d)}</description></item>"
        for t, link, d in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://example.org/</link><description>test feed</description>{entries}</channel></rss>"
            ).encode()
