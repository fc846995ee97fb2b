r"""Fault injection for tests: `--faults SPEC`, POST /_emulator/faults.

SPEC is comma-separated `kind:rate[:arg]` elements plus optional
modifiers that apply to every fault in it; several such rules may be
joined with `;` (each its own faults, modifiers and counts; a request
gets the fault of the first rule that fires for it):

  route=SUBSTRING  only paths containing SUBSTRING. The path matched is the
                   request path without the query, percent-decoded (so
                   `%24ref` is `$ref`), with its /v1.0 or /beta prefix,
                   compared case-sensitively. A `$` as the LAST character
                   anchors at the end of the path (`route=/jobs$` is job
                   creation only); a `$` anywhere else is literal
                   (`route=/allowedUsers/$ref` matches the add-user
                   path). Write `\$` for a literal `$` at the end.
  method=POST      only that HTTP method (GET, POST, PUT, PATCH, DELETE,
                   HEAD).
  after=N          the first N requests that match route/method pass
                   untouched; faults start with the N+1-th.
  times=N          at most N requests get a fault, then the spec is spent.
                   Setting a spec again restarts both counts.

Kinds:
  403:0.1     403 accessDenied (nothing done); on an upload URL, its own
              credential refused, as one past its expirationDateTime may be
  400:0.1     400 invalidRequest: a request the service will not take in
              this form (nothing done)
  404:0.1     404 itemNotFound: as a service without the resource answers
              (nothing done)
  409:0.1     409 conflict: a request the resource's state does not allow
              (nothing done)
  429:0.2:1   429 with Retry-After: 1 (no arg: no header); 429:0.2:@1
              the same as an HTTP date, 1 s after the reply's Date (the
              server's clock: clockSkewSeconds of POST /_emulator); so
              for 500, 502, 503 and 504
  500:0.1     500 generalException        503:0.1:2  503 (+ Retry-After)
  502:0.1     502 badGateway              504:0.1    504 gatewayTimeout
  501:0.1     501 notSupported (a feature the service does not have)
              (500, 502 and 504 take a Retry-After as 503 does: 504:0.1:2;
              the reference promises none, and a gateway may send one)
  401:0.1     401 InvalidAuthenticationToken "Lifetime validation failed,
              the token is expired." with WWW-Authenticate, as Graph
              answers an expired bearer token (nothing done). Only this
              reply: the token stays good, so a client that takes a new
              one, or the same one again, gets through once the spec is
              spent. On upload URLs (no bearer): 401 unauthenticated, the
              tempauthtoken refused.
  reset:0.1   close the connection (RST) without replying (nothing done)
  drop:0.1    do the work, then close the connection without replying
  slow:0.1:3  wait 3 s before replying (combines with the others)
  expire:0.1  the upload session a PUT/GET/DELETE of an upload URL uses
              expires at once: the request (and every later one) gets 404
  loop:0.1    a hostile service: a GET answers an empty page whose
              @odata.nextLink is a new URL every time, without end
  flood:0.1   a hostile service: 200 with a JSON body that never ends,
              sent as fast as the client reads
  html:0.1    a hostile proxy: 200 with a text/html page instead of JSON
  416:0.1     upload-URL PUTs only (other requests pass): the bytes are
              stored, then the reply is 416 invalidRange, as the service
              answers a range it already holds (a PUT repeated after its
              reply was lost). The client should GET the session and send
              what nextExpectedRanges still lists. On the PUT that
              completes the document the session is gone afterwards: the
              GET is a 404 and the job's document has every byte.
  overlap:0.1  as 416, but the reply is 400 invalidRequest with the
              detailed code fragmentOverlap in its innerError, the form
              the Graph error catalogue gives upload fragment errors
  mismatch:0.1  upload-URL PUTs only: 400 invalidRequest with
              fragmentLengthMismatch in its innerError, as for a declared
              total other than the session's size (nothing stored)
  truncated:0.1  the work is done, then the reply's head promises its
              Content-Length but only half the body (a reply without one,
              such as 204, becomes 200 with "{}") is sent before the
              connection closes
  malformed:0.1  the work is done, then the reply is 200 with a JSON
              content type and a body that is not JSON
  done500:0.1  the work is done, then the reply is 500 generalException,
              as a service that failed after it had carried the request
              out (a 500 usually means nothing was done)
  done503:0.1:2  the work is done, then the reply is 503 with
              Retry-After: 2 (no arg: no header): nothing in the
              reference says a 503 that names a wait did no work
  stall:0.1:5  the work is done, then the reply's head and half its body
              are sent, then nothing for 5 s with the connection open,
              then it closes (a client's low-speed limit should fire
              first)
  throttle:10:2  every matching request for 10 s from the first one gets
              429 with Retry-After: 2 (the second number is a duration,
              not a rate; no arg: no Retry-After header).

GET /_emulator/faults lists in "history" every request a rule counted
(route, method; at most 10,000 a rule), rule by rule: {"t": seconds
since the rule's first, "method", "path", "fault": the kind that decided
it, or null (none, or only slow), "throttled": whether that was a
throttle window's 429}.

Targeting (the path, without the query, is matched):
  create job       method=POST,route=/jobs$
  upload session   route=createUploadSession
  upload PUTs      method=PUT,route=/uploadSessions/ (or route=uploadSessions)
  start            route=/start$        cancel  route=/cancel$
  add a user       method=POST,route=/allowedUsers/$ref
  remove a user    method=DELETE,route=/allowedUsers/   (.../{id}/$ref)
  add/remove a group   the same with allowedGroups
  every $ref call  route=/$ref$          (users and groups, add and remove)
  share create     method=POST,route=/print/shares$
  share update     method=PATCH,route=/print/shares/
  the 2nd $ref only    500:1,route=/$ref$,after=1,times=1

Kinds that do the work and then spoil the reply (drop, 416, truncated,
malformed, stall, done500, done503) record the write in the write log (GET
/_emulator/writes), as it happened.

Faults apply to the Graph surface (/v1.0, /beta, and the upload URLs
/uploadSessions/...) only, or, with route=, to any non-test path containing
the substring (route=oauth2 reaches the token endpoint). Rolls come from
one RNG seeded with --seed. Kinds handled elsewhere (expire, by the upload
handlers) are in KINDS but not DECIDED and read `Faults.roll(kind)`."""

import random
import threading
import time
from email.utils import formatdate
from urllib.parse import unquote

from .wire import GraphError

STATUS = {
    "400": ("invalidRequest", "The request is not supported (emulated)."),
    "403": ("accessDenied", "Access denied (emulated)."),
    "404": ("itemNotFound", "The resource was not found (emulated)."),
    "409": ("conflict", "The request conflicts with the state of the "
            "resource (emulated)."),
    "429": ("activityLimitReached", "The request has been throttled. "
            "Retry after the number of seconds in the Retry-After header."),
    "500": ("generalException", "An unexpected error occurred (emulated)."),
    "501": ("notSupported", "The requested feature isn't implemented "
            "(emulated)."),
    "503": ("serviceNotAvailable", "The service is temporarily unavailable "
            "(emulated). Retry later."),
    "502": ("badGateway", "The gateway received an invalid response "
            "(emulated)."),
    "504": ("gatewayTimeout", "The gateway timed out (emulated)."),
    "401": ("InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired."),
}
UPLOAD_PREFIX = "/uploadSessions/"
HOSTILE = {"loop", "flood", "html"}     # replies made by app.hostile_reply
AFTER = {"416", "overlap", "truncated", "malformed", "stall",  # app.py
         "done500", "done503"}
DECIDED = set(STATUS) | {"reset", "drop", "slow", "throttle",
                         "mismatch"} | HOSTILE | AFTER
KINDS = DECIDED | {"expire"}       # expire: rolled by the upload handlers
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


class Fault:
    def __init__(self, kind, rate, arg, date_form=False):
        self.kind, self.rate, self.arg = kind, rate, arg
        self.date_form = date_form      # Retry-After as an HTTP date

    def __repr__(self):
        return "%s:%g%s" % (self.kind, self.rate,
                            "" if self.arg is None else ":%s%g" % (
                                "@" if self.date_form else "", self.arg))


class Target:
    """Which requests a spec's faults apply to, and how many so far."""

    def __init__(self):
        self.route = None       # substring, or None: the Graph surface
        self.anchored = False   # route must end the path
        self.method = None
        self.after = 0
        self.times = None

    def set_route(self, text):
        if text.endswith("\\$"):
            self.route, self.anchored = text[:-2] + "$", False
        elif text.endswith("$"):
            self.route, self.anchored = text[:-1], True
        else:
            self.route, self.anchored = text, False

    def matches(self, path, graph, method):
        if self.method is not None and method is not None and \
                method != self.method:
            return False
        if self.route is None:
            return graph
        path = unquote(path)
        if self.anchored:
            return path.endswith(self.route)
        return self.route in path


def _count(element, name):
    try:
        value = int(element[len(name) + 1:])
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("bad count in '%s' (want %s=N, N >= 0)"
                         % (element, name))
    return value


def parse(spec):
    """(faults, Target); raises ValueError with a reason."""
    faults, target = [], Target()
    for element in (spec or "").split(","):
        element = element.strip()
        if not element:
            continue
        if element.startswith("route="):
            target.set_route(element[len("route="):])
            continue
        if element.startswith("after="):
            target.after = _count(element, "after")
            continue
        if element.startswith("times="):
            target.times = _count(element, "times")
            continue
        if element.startswith("method="):
            method = element[len("method="):].upper()
            target.method = method
            if method not in METHODS:
                raise ValueError("bad method in '%s' (want one of %s)"
                                 % (element, ", ".join(METHODS)))
            continue
        parts = element.split(":")
        if len(parts) not in (2, 3) or parts[0] not in KINDS:
            raise ValueError("bad fault element '%s' (want kind:rate[:arg], "
                             "kind one of %s)" % (element,
                                                  ", ".join(sorted(KINDS))))
        date_form = len(parts) == 3 and parts[2].startswith("@") and \
            parts[0] in ("429", "500", "502", "503", "504")
        try:
            rate = float(parts[1])
            arg = float(parts[2].lstrip("@") if date_form else parts[2]) \
                if len(parts) == 3 else None
        except ValueError:
            raise ValueError("bad number in fault element '%s'" % element)
        if parts[0] == "throttle":
            if rate <= 0 or (arg is not None and arg < 0):
                raise ValueError("throttle takes seconds > 0 and a "
                                 "Retry-After >= 0 in '%s'" % element)
            faults.append(Fault(parts[0], rate, arg))
            continue
        if parts[0] == "stall" and arg is None:
            raise ValueError("stall takes the seconds of silence: "
                             "stall:RATE:SECS in '%s'" % element)
        if not 0.0 <= rate <= 1.0 or (arg is not None and arg < 0):
            raise ValueError("rate must be in [0,1] and arg >= 0 in '%s'"
                             % element)
        faults.append(Fault(parts[0], rate, arg, date_form))
    return faults, target


class Decision:
    """What to do to one request: delay seconds, then maybe an error reply
    (error), a reset instead of a reply, or a drop after the work."""

    def __init__(self):
        self.delay = 0.0
        self.error = None
        self.abort = None
        self.hostile = None     # one of HOSTILE: app.hostile_reply()
        self.after = None       # one of AFTER: app.spoiled_reply()
        self.stall = 0.0        # stall: seconds of silence
        self.retry_after = None     # done503: its Retry-After, if any


class Rule:
    """One `;`-separated part of a spec: its faults, its target, and its
    counts since the spec was set."""

    def __init__(self, faults, target):
        self.faults, self.target = faults, target
        self.seen = 0           # matching requests
        self.fired = 0          # of them, those that got a fault
        self.window_start = None    # throttle: when its window began
        self.first = None           # when it counted its first request
        self.history = []           # the requests it counted (record)

    def armed(self):
        """after= and times= allow a fault for the current request."""
        t = self.target
        return self.seen > t.after and (t.times is None or
                                        self.fired < t.times)

    def throttled(self, fault):
        """Whether a throttle window covers this request (the window
        opens at the first one)."""
        now = time.monotonic()
        if self.window_start is None:
            self.window_start = now
        return now - self.window_start < fault.rate

    def record(self, path, method, fault):
        """Under the lock: a request this rule counted, and the fault it
        got (None: none), in history."""
        now = time.monotonic()
        if self.first is None:
            self.first = now
        if len(self.history) < 10000:
            self.history.append({
                "t": round(now - self.first, 3), "method": method,
                "path": unquote(path.split("?")[0]),
                "fault": fault.kind if fault else None,
                "throttled": fault is not None and fault.kind == "throttle"})

    def hit(self, rng, path, method, decision):
        """Under the lock, for a request this rule counts: the fault that
        decides it, or None (slow only sets decision.delay)."""
        hit, slowed = None, False
        for fault in self.faults:
            if fault.kind == "throttle":
                if self.throttled(fault):
                    hit = hit or fault
                continue
            if fault.kind not in DECIDED:
                continue
            if fault.kind in ("416", "overlap", "mismatch") and not (
                    method == "PUT" and path.startswith(UPLOAD_PREFIX)):
                continue        # only a range PUT can overlap
            if not rng.random() < fault.rate:
                continue
            if fault.kind == "slow":
                decision.delay = fault.arg or 0.0
                slowed = True
            elif hit is None:
                hit = fault
        if hit is not None or slowed:
            self.fired += 1
        return hit


class Faults:
    """The spec's rules (`;` separates them: each with its own faults,
    route, method and counts). A request is decided by the first rule
    that applies to it and fires; every rule that applies counts it."""

    def __init__(self, spec="", seed=1):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.spec = ""
        self.rules = []
        self.set(spec)

    @property
    def history(self):
        """Under the lock: the requests the rules counted."""
        return [h for rule in self.rules for h in rule.history]

    def set(self, spec):
        rules = [Rule(*parse(part))             # raises before changing
                 for part in (spec or "").split(";") if part.strip()]
        with self.lock:
            self.spec, self.rules = spec or "", rules

    def roll(self, kind, path="", graph=True, method=None):
        """The fault of this kind if it fires for this request, else None.
        (decide() has already counted the request.)"""
        with self.lock:
            for rule in self.rules:
                if not rule.target.matches(path, graph, method) or \
                        not rule.armed():
                    continue
                for fault in rule.faults:
                    if fault.kind == kind and self.rng.random() < fault.rate:
                        rule.fired += 1
                        return fault
        return None

    def decide(self, path, graph, method=None, server_now=None):
        """server_now: the server's clock (for a Retry-After date)."""
        decision = Decision()
        hit = None
        with self.lock:
            for rule in self.rules:
                if not rule.faults or \
                        not rule.target.matches(path, graph, method):
                    continue
                rule.seen += 1
                fault = None
                if hit is None and rule.armed():
                    fault = hit = rule.hit(self.rng, path, method, decision)
                rule.record(path, method, fault)
        if hit is None:
            return decision
        if hit.kind in HOSTILE:
            decision.hostile = hit.kind
        elif hit.kind in AFTER:
            decision.after = hit.kind
            if hit.kind == "stall":
                decision.stall = hit.arg
            elif hit.kind == "done503":
                decision.retry_after = hit.arg
        elif hit.kind == "401":
            decision.error = _unauthorized(path)
        elif hit.kind in ("reset", "drop"):
            decision.abort = hit.kind
        elif hit.kind == "mismatch":
            decision.error = GraphError(
                400, "invalidRequest", "The declared total length differs "
                "from the upload session's size (emulated).",
                inner_code="fragmentLengthMismatch")
        elif hit.kind in STATUS or hit.kind == "throttle":
            status = "429" if hit.kind == "throttle" else hit.kind
            code, message = STATUS[status]
            headers = {}
            if hit.arg is not None and status in ("429", "500", "502",
                                                  "503", "504"):
                headers["Retry-After"] = formatdate(
                    (server_now or time.time()) + hit.arg, usegmt=True) \
                    if hit.date_form else "%d" % hit.arg
            decision.error = GraphError(int(status), code, message, headers)
        return decision


def _unauthorized(path):
    """The 401 of an expired bearer token; on an upload URL, of a refused
    tempauthtoken (uploads.py's own refusal)."""
    if path.startswith(UPLOAD_PREFIX):
        return GraphError(401, "unauthenticated", "The tempauthtoken of "
                          "the upload URL has expired (emulated).")
    from .auth import WWW_AUTH      # auth imports much; only when needed
    code, message = STATUS["401"]
    return GraphError(401, code, message, {"WWW-Authenticate": WWW_AUTH})
