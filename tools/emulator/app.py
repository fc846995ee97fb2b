"""Request dispatch: which surface a path belongs to (Graph, OAuth, test
routes), then auth, routing, counting, faults and the handler, in that
order. Knows nothing about sockets; the server writes what it returns."""

import sys
import traceback

from . import auth, control, graph_directory, graph_print
from .faults import Faults
from .metrics import Counter
from .router import Router
from .wire import GraphError, Reply

VERSIONS = ("v1.0", "beta")


def graph_router():
    r = Router()
    graph_print.register(r)
    graph_directory.register(r)
    return r


def oauth_router():
    r = Router()
    r.add("POST", "/{tenant}/oauth2/v2.0/token", auth.token_endpoint)
    r.add("POST", "/{tenant}/oauth2/v2.0/devicecode",
          auth.devicecode_endpoint)
    return r


class App:
    def __init__(self, state, faults=None, page_size=100):
        self.state = state                # replaced by /_emulator/reset
        self.faults = faults or Faults()
        self.page_size = page_size
        self.counter = Counter()
        self.graph = graph_router()
        self.oauth = oauth_router()
        self.control = control.router()

    def dispatch(self, req):
        """The Reply for req; never raises."""
        req.page_size = self.page_size
        try:
            first = req.raw_path.split("/", 2)[1] if "/" in req.raw_path \
                else ""
            if first == "_emulator":
                return self._control(req)
            if first in VERSIONS:
                return self._graph(req, first)
            if "/oauth2/" in req.raw_path:
                return self._oauth(req)
            raise GraphError(404, "NotFound",
                             "No such endpoint: '%s'. Graph lives under "
                             "/v1.0 and /beta." % req.raw_path)
        except GraphError as err:
            return err.reply(req)
        except Exception:                          # a bug: say so, loudly
            traceback.print_exc(file=sys.stderr)
            return GraphError(500, "generalException",
                              "Emulator bug; see its stderr.").reply(req)

    def _control(self, req):
        route, req.params = self.control.resolve(req.method, req.raw_path)
        req.route = route
        return route.handler(req, self)

    def _oauth(self, req):
        try:
            route, req.params = self.oauth.resolve(req.method, req.raw_path)
        except GraphError as err:
            self.counter.count(req.method, None)
            raise err
        req.route = route
        self.counter.count(req.method, route.template.replace("/{tenant}",
                                                              "", 1))
        return self._faulted(req, False, lambda: route.handler(req,
                                                               self.state))

    def _graph(self, req, version):
        req.version = version
        req.path = req.raw_path[len(version) + 1:] or "/"
        try:
            route, req.params = self.graph.resolve(req.method, req.path)
        except GraphError as err:
            self.counter.count(req.method, err.template)
            return self._faulted(req, True, lambda: self._graph_error(
                req, err))
        req.route = route
        self.counter.count(req.method, route.template)
        return self._faulted(req, True, lambda: self._graph_call(req, route))

    def _graph_error(self, req, err):
        auth.check_bearer(req)      # a bad token wins over a bad path
        raise err

    def _graph_call(self, req, route):
        auth.check_bearer(req)
        auth.check_app_allowed(req)
        if route.planned:
            raise GraphError(501, "notImplemented",
                             "%s %s is not implemented by the emulator yet."
                             % (route.method, route.template))
        return route.handler(req, self.state)

    def _faulted(self, req, graph, work):
        """Runs work() under the fault spec: maybe delayed, replaced by an
        error or a reset, or dropped after the work is done."""
        decision = self.faults.decide(req.raw_path, graph)
        if decision.abort == "reset" or decision.error is not None:
            reply = Reply() if decision.error is None else \
                decision.error.reply(req)
        else:
            try:
                reply = work()
            except GraphError as err:
                reply = err.reply(req)
        reply.abort = decision.abort
        reply.delay = decision.delay
        return reply
