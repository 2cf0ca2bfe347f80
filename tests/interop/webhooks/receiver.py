"""A webhook receiver on 127.0.0.1 that checks every delivery with the `standardwebhooks`
package (an implementation independent of licensd's).

Usage: receiver.py SECRET [PORT]. Listens on PORT (default: any free port) and prints it,
then one JSON line per request: {"verified": bool, "error": str|null, "id": webhook-id,
"body": the body}. Verified requests are answered 204, others 400.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

WEBHOOK = Webhook(sys.argv[1])
OUTPUT = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items()}
        try:
            WEBHOOK.verify(body, headers)
            verified, error = True, None
        except Exception as exc:  # any refusal is reported to the test
            verified, error = False, f"{type(exc).__name__}: {exc}"
        line = {
            "verified": verified,
            "error": error,
            "id": self.headers.get("webhook-id"),
            "body": body.decode("utf-8", "replace"),
        }
        # One write per line under a lock: concurrent requests must not interleave their lines.
        with OUTPUT:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        self.send_response(204 if verified else 400)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # Many deliveries arrive at once (two nodes retrying together): a longer accept queue than
    # the default 5, so none is refused and pushed back by its retry backoff.
    request_queue_size = 128


server = Server(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
