"""Counts Graph-surface requests by method and route template, for
GET /_emulator/requests. Test routes are never counted."""

import threading


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.routes = {}
        self.total = 0

    def count(self, method, template):
        key = "%s %s" % (method, template or "<unknown>")
        with self.lock:
            self.total += 1
            self.routes[key] = self.routes.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"total": self.total, "routes": dict(sorted(
                self.routes.items()))}

    def reset(self):
        with self.lock:
            self.total = 0
            self.routes = {}
