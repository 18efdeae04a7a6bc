"""A stand-in service under test for the CI example: replace it with your own service.

``python examples/loadtest/service.py --port 8080`` serves ``/fast`` (about 5 ms), ``/slow`` (about
40 ms) and ``/health`` on 127.0.0.1 until it is stopped. Standard library only, so the example needs
nothing but Python on the runner.
"""

from __future__ import annotations

import argparse
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAYS = {"/fast": 0.005, "/slow": 0.040, "/health": 0.0}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        delay = DELAYS.get(self.path.split("?", 1)[0])
        if delay is None:
            self.send_error(404)
            return
        time.sleep(delay * random.uniform(0.8, 1.2))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
