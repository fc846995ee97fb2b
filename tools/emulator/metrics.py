"""Counts Graph-surface requests by method and route template, for
GET /_emulator/requests, with ?urls=1 also each GET by its path and query
as sent (a listing page fetched twice shows there), and logs the
successful writes, for GET /_emulator/writes. Test routes are never
counted or logged."""

import json
import threading

from . import util

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_LIMIT = 64 << 10       # JSON bodies up to this size are kept
URL_LIMIT = 200000          # distinct GET URLs counted; more go uncounted


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.routes = {}
        self.urls = {}            # "path?query" -> [route, count]
        self.urls_dropped = 0     # GETs past URL_LIMIT distinct URLs
        self.total = 0
        self.connections = 0      # TCP connections accepted
        self.handshakes = 0       # TLS handshakes completed (--tls)

    def connection(self):
        with self.lock:
            self.connections += 1

    def handshake(self):
        with self.lock:
            self.handshakes += 1

    def count(self, method, template, url=None):
        """url: the GET's path (without a trailing slash) and query as
        sent, to count per page."""
        key = "%s %s" % (method, template or "<unknown>")
        with self.lock:
            self.total += 1
            self.routes[key] = self.routes.get(key, 0) + 1
            if method != "GET" or url is None:
                return
            seen = self.urls.get(url)
            if seen is not None:
                seen[1] += 1
            elif len(self.urls) < URL_LIMIT:
                self.urls[url] = [key, 1]
            else:
                self.urls_dropped += 1

    def snapshot(self, urls=False):
        with self.lock:
            out = {"total": self.total, "routes": dict(sorted(
                self.routes.items())), "connections": self.connections,
                "tlsHandshakes": self.handshakes}
            if urls:
                out["urls"] = {u: {"route": r, "count": n}
                               for u, (r, n) in sorted(self.urls.items())}
                out["urlsUncounted"] = self.urls_dropped
            return out

    def reset(self):
        with self.lock:
            self.total = 0
            self.routes = {}
            self.urls = {}
            self.urls_dropped = 0
            self.connections = 0
            self.handshakes = 0


class WriteLog:
    """The write requests (POST, PUT, PATCH, DELETE) whose work was done
    and succeeded (2xx), oldest first: the Graph surface and the upload
    URLs, not the token endpoint. A request a fault refused is not in it
    (nothing changed); one a `drop` fault cut off after the work is, with
    "dropped": true (the service changed, the client heard nothing)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def record(self, req, reply):
        if req.method not in WRITE_METHODS or not 200 <= reply.status < 300:
            return
        body = None
        if req.stream is None and req.body and len(req.body) <= BODY_LIMIT:
            try:
                body = json.loads(req.body)
            except (ValueError, UnicodeDecodeError):
                body = None
        entry = {
            "method": req.method,
            "route": req.route.template if req.route else None,
            "path": req.raw_path,
            "query": req.raw_query,
            "params": dict(req.params),
            "status": reply.status,
            "time": util.now_str(),
            "upn": (req.claims or {}).get("upn"),
            "body": body,
            "dropped": reply.abort == "drop",
        }
        with self.lock:
            self.entries.append(entry)

    def snapshot(self):
        with self.lock:
            return {"value": list(self.entries)}

    def reset(self):
        with self.lock:
            self.entries = []
