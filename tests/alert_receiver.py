"""A real HTTP receiver on 127.0.0.1 for webhook tests: records what it is sent, can fail on purpose."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Answers ``fail_first`` requests with ``fail_status`` (0: drop the connection), then 200."""

    def __init__(self, *, fail_first: int = 0, fail_status: int = 503) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fail_first, self.fail_status = fail_first, fail_status
        self.seen = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.seen += 1
                if outer.seen <= outer.fail_first:
                    if outer.fail_status == 0:
                        self.connection.close()
                        return
                    self.send_response(outer.fail_status)
                    self.end_headers()
                    return
                outer.requests.append(json.loads(body))
                outer.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/lakeops?key=s3cret-path"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
