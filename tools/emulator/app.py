"""Request dispatch: which surface a path belongs to (Graph, upload URLs,
download URLs, OAuth, test routes), then auth, routing, counting, faults
and the handler, in that order. The Graph surface is /print (graph_print,
printing, sharing, admin, downloads' $value, pulltasks), the directory
(graph_directory) and /reports (reports). Knows nothing about sockets; the
server writes what it returns. Every request first lets started jobs and
running operations finish (State.tick)."""

import itertools
import sys
import time
import traceback

from . import (admin, auth, control, downloads, graph_directory,
               graph_print, printing, pulltasks, reports, scopes, sharing,
               uploads, util)
from .faults import STATUS, Faults
from .metrics import Counter, WriteLog
from .router import Router
from .wire import JSON_TYPE, ClientGone, GraphError, Reply, StreamBody

VERSIONS = ("v1.0", "beta")
UPLOAD_PREFIX = "/uploadSessions/"
DOWNLOAD_PREFIX = "/downloads/"


def graph_router():
    r = Router()
    printing.register(r)
    sharing.register(r)
    admin.register(r)
    downloads.register(r)
    pulltasks.register(r)
    graph_print.register(r)
    graph_directory.register(r)
    reports.register(r)
    return r


def oauth_router():
    r = Router()
    r.add("POST", "/{tenant}/oauth2/v2.0/token", auth.token_endpoint)
    r.add("POST", "/{tenant}/oauth2/v2.0/devicecode",
          auth.devicecode_endpoint)
    return r


def hostile_reply(req, kind, serial):
    """What a broken or hostile service sends (faults.py HOSTILE); serial
    makes each endless page's link new."""
    if kind == "loop":
        link = "%s%s?$skiptoken=loop-%d" % (req.base,
                                             req.raw_path.split("?")[0],
                                             serial)
        return Reply(200, {"value": [], "@odata.nextLink": link})
    if kind == "html":
        return Reply(200, b"<html><body><h1>Sign in to continue</h1>"
                     b"</body></html>\n", {"Content-Type": "text/html"})

    def endless():
        yield b'{"value":['
        item = b'{"id":"00000000-0000-0000-0000-000000000000"},' * 1000
        while True:
            yield item
    return Reply(200, StreamBody(1 << 50, endless),
                 {"Content-Type": "application/json"})


MALFORMED = b'{"value":[{"id":"malformed",]}'    # a trailing comma


def spoiled_reply(req, kind, reply, retry_after=None):
    """The reply of the AFTER kinds (faults.py): a 416 (or a 400 whose
    innerError says fragmentOverlap) in place of a range PUT's success, a
    malformed body, or a reply marked for the server to cut short
    (truncated) or to stall. Failures pass unchanged, but a
    truncated or stalled reply always has a body to cut."""
    if kind in ("416", "overlap"):
        if not 200 <= reply.status < 300:
            return reply
        if kind == "overlap":
            return GraphError(400, "invalidRequest", "Uploaded fragment "
                              "overlaps with existing data (emulated).",
                              inner_code="fragmentOverlap").reply(req)
        return GraphError(416, "invalidRange", "The uploaded fragment "
                          "overlaps with data already received "
                          "(emulated).").reply(req)
    if kind == "malformed":
        return Reply(200, MALFORMED, {"Content-Type": JSON_TYPE})
    if kind == "done500":
        return GraphError(500, *STATUS["500"]).reply(req)
    if kind == "done503":
        return GraphError(503, *STATUS["503"], {} if retry_after is None
                          else {"Retry-After": "%d" % retry_after}
                          ).reply(req)
    if reply.body is None or reply.body == b"":
        reply = Reply(200, {})
    reply.cut = kind
    return reply


class App:
    """job_quota: jobs a user may create in 12 days; job_seconds: from
    start to completed; upload_seconds: an upload session's lifetime;
    operation_seconds: from POST /print/printers/create to the printer
    registered; download_seconds: a download URL's lifetime. (POST
    /_emulator changes them at run time.) uploads (uploads.Uploads) owns a
    temp directory: call close() at exit."""

    def __init__(self, state, faults=None, page_size=100, job_quota=10000,
                 job_seconds=2.0, upload_seconds=3600.0, uploads_root=None,
                 operation_seconds=1.0, download_seconds=3600.0,
                 lists_omit_details=False, transfer_host=None):
        self.state = state                # replaced by /_emulator/reset
        self.faults = faults or Faults()
        self.page_size = page_size
        self.job_quota = job_quota
        self.job_seconds = job_seconds
        self.upload_seconds = upload_seconds
        self.operation_seconds = operation_seconds
        self.download_seconds = download_seconds
        # Lists of printers and shares leave out defaults and
        # capabilities even when $select names them (one reading of
        # reference §3.1, §3.4; by default $select is honoured).
        self.lists_omit_details = lists_omit_details
        # ... or only the elements of these printers and shares.
        self.lists_omit_details_of = []
        # The host name of upload and download URLs; None: the other
        # loopback name (wire.Request.transfer_base).
        self.transfer_host = transfer_host
        self.lists_ignore_expand = []   # navigations lists never expand
        # createUploadSession fills in the document's name, content type
        # and size at once, not when its bytes are in: the reference
        # shows a new job's document with size 0 and says no more.
        self.document_set_at_session = False
        self.triggers_list_empty = False    # §11 #4: a trigger unlisted
        self.held_details = ["releaseWait"]  # a held job's (§13 Q2)
        self.lists_omit_created_by = False  # §3.2's list example
        # Download URLs answer every GET with the whole document (200),
        # as a host that does not do ranges may (RFC 9110 allows it).
        self.downloads_ignore_range = False
        self.downloads_range_align = 0
        # Seconds the service's clock is ahead of this machine's (its
        # Date headers, Retry-After dates and the times it stamps).
        self.clock_skew = 0
        self.uploads = uploads.Uploads(uploads_root)
        self.downloads = downloads.Downloads()
        self.counter = Counter()
        self.writes = WriteLog()
        self.hostile_serial = itertools.count(1)
        self.graph = graph_router()
        self.oauth = oauth_router()
        self.control = control.router()
        self.upload = uploads.router()
        self.download = downloads.router()

    def close(self):
        self.uploads.close()

    @staticmethod
    def streams(path):
        """True for paths whose PUT bodies the handler reads itself."""
        return path.startswith(UPLOAD_PREFIX)

    def dispatch(self, req):
        """The Reply for req; never raises (but lets ClientGone through:
        the server then closes the connection)."""
        req.page_size = self.page_size
        req.app = self
        try:
            self.state.tick()
            first = req.raw_path.split("/", 2)[1] if "/" in req.raw_path \
                else ""
            if first == "_emulator":
                return self._control(req)
            if first in VERSIONS:
                return self._graph(req, first)
            if first == UPLOAD_PREFIX.strip("/"):
                return self._preauth(req, self.upload, True)
            if first == DOWNLOAD_PREFIX.strip("/"):
                return self._preauth(req, self.download, False)
            if "/oauth2/" in req.raw_path:
                return self._oauth(req)
            raise GraphError(404, "NotFound",
                             "No such endpoint: '%s'. Graph lives under "
                             "/v1.0 and /beta." % req.raw_path)
        except GraphError as err:
            return err.reply(req)
        except ClientGone:
            raise
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

    def _preauth(self, req, router, log):
        """The pre-authenticated upload (and download) URLs: no bearer
        token, counted and faulted like the Graph surface; with log, the
        writes go into the write log."""
        try:
            route, req.params = router.resolve(req.method, req.raw_path)
        except GraphError as err:
            self.counter.count(req.method, err.template)
            raise err
        req.route = route
        self.counter.count(req.method, route.template)
        return self._faulted(req, True, lambda: route.handler(req, self),
                             log=log)

    def _graph(self, req, version):
        req.version = version
        req.path = req.raw_path[len(version) + 1:] or "/"
        try:
            route, req.params = self.graph.resolve(req.method, req.path)
        except GraphError as err:
            self.counter.count(req.method, err.template)
            return self._faulted(req, True, lambda e=err: self._graph_error(
                req, e))
        req.route = route
        self.counter.count(req.method, route.template, req.raw_path + (
            "?" + req.raw_query if req.raw_query else ""))
        return self._faulted(req, True, lambda: self._graph_call(req, route),
                             log=True)

    def _graph_error(self, req, err):
        auth.check_bearer(req)      # a bad token wins over a bad path
        raise err

    def _graph_call(self, req, route):
        auth.check_bearer(req)
        auth.check_app_allowed(req)
        scopes.check(req)
        if route.planned:
            raise GraphError(501, "notImplemented",
                             "%s %s is not implemented by the emulator yet."
                             % (route.method, route.template))
        return route.handler(req, self.state)

    @property
    def clock_skew(self):
        return util.clock_skew()

    @clock_skew.setter
    def clock_skew(self, seconds):
        util.set_clock_skew(seconds)

    def _faulted(self, req, graph, work, log=False):
        """Runs work() under the fault spec: maybe delayed, replaced by an
        error or a reset, or dropped or spoiled after the work is done. With log, a
        successful write whose work ran goes into the write log."""
        decision = self.faults.decide(req.raw_path, graph, req.method,
                                      time.time() + self.clock_skew)
        if decision.hostile:
            reply = hostile_reply(req, decision.hostile,
                                  next(self.hostile_serial))
            reply.delay = decision.delay
            return reply
        if decision.abort == "reset" or decision.error is not None:
            reply = Reply() if decision.error is None else \
                decision.error.reply(req)
        else:
            try:
                reply = work()
            except GraphError as err:
                reply = err.reply(req)
            reply.abort = decision.abort
            if log:
                self.writes.record(req, reply)
            if decision.after:
                reply = spoiled_reply(req, decision.after, reply,
                                      decision.retry_after)
                reply.stall = decision.stall
        reply.abort = decision.abort
        reply.delay = decision.delay
        return reply
