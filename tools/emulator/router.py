"""Route tables: templates like "/print/printers/{id}/jobs/{jid}" mapped to
handlers, matched segment by segment (literal segments case-insensitively,
as Graph does). The template is also the key under which requests are
counted."""

from urllib.parse import unquote

from .wire import GraphError


class Route:
    """One method + template.

    handler(req, state) -> Reply; req.params holds the {names}.
    app_ok: app-only tokens may call it (else 403 for them).
    planned: documented but not implemented yet (501)."""

    def __init__(self, method, template, handler, app_ok=True,
                 planned=False):
        self.method = method
        self.template = template
        self.handler = handler
        self.app_ok = app_ok
        self.planned = planned
        self.segments = [s for s in template.split("/") if s]

    def match(self, segments):
        if len(segments) != len(self.segments):
            return None
        params = {}
        for pattern, seg in zip(self.segments, segments):
            if pattern.startswith("{"):
                if not seg:
                    return None
                params[pattern[1:-1]] = seg
            elif pattern.lower() != seg.lower():
                return None
        return params


class Router:
    def __init__(self):
        self.routes = []

    def add(self, method, template, handler=None, **kw):
        self.routes.append(Route(method, template, handler, **kw))

    def plan(self, method, template, app_ok=True):
        """A documented route the emulator does not serve yet."""
        self.routes.append(Route(method, template, None, app_ok=app_ok,
                                 planned=True))

    def resolve(self, method, path):
        """(route, params) or raises GraphError 400/405.

        A GraphError raised here carries `.template` (the template that
        matched the path, or None) so the request can still be counted."""
        segments = [unquote(s) for s in path.split("/") if s]
        allowed = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method or (method == "HEAD"
                                          and route.method == "GET"):
                return route, params
            allowed.append(route)
        if allowed:
            err = GraphError(
                405, "BadRequest",
                "Specified HTTP method is not allowed for the request "
                "target.",
                {"Allow": ", ".join(sorted({r.method for r in allowed}))})
            err.template = allowed[0].template
            raise err
        err = GraphError(400, "BadRequest",
                         "Resource not found for the segment '%s'."
                         % self._bad_segment(segments))
        err.template = None
        raise err

    def _bad_segment(self, segments):
        """The first segment no route's template accepts at its place."""
        for depth, seg in enumerate(segments):
            ok = False
            for route in self.routes:
                if len(route.segments) <= depth:
                    continue
                if route.match(segments[:depth + 1] +
                               route.segments[depth + 1:]) is not None:
                    ok = True
                    break
            if not ok:
                return seg
        return segments[-1] if segments else ""
