"""Fault injection for tests: `--faults SPEC`.

SPEC is comma-separated `kind:rate[:arg]` elements plus an optional
`route=SUBSTRING` that limits every fault to paths containing SUBSTRING
(a trailing `$` anchors it at the end of the path: `route=/jobs$` is job
creation only) and an optional `method=POST` (or PUT, GET, ...) that limits
them to one HTTP method:

  429:0.2:1   429 with Retry-After: 1 (no arg: no header)
  500:0.1     500 generalException        503:0.1:2  503 (+ Retry-After)
  504:0.1     504 gatewayTimeout
  reset:0.1   close the connection (RST) without replying
  drop:0.1    do the work, then close the connection without replying
  slow:0.1:3  wait 3 s before replying (combines with the others)
  expire:0.1  the upload session a PUT/GET/DELETE of an upload URL uses
              expires at once: the request (and every later one) gets 404

Targeting one phase of printing (the path, without the query, is matched):
  create job       method=POST,route=/jobs$
  upload session   route=createUploadSession
  upload PUTs      method=PUT,route=/uploadSessions/ (or route=uploadSessions)
  start            route=/start$        cancel  route=/cancel$

Faults apply to the Graph surface (/v1.0, /beta, and the upload URLs
/uploadSessions/...) only, or, with route=, to any non-test path containing
the substring (route=oauth2 reaches the token endpoint). Rolls come from
one RNG seeded with --seed. Kinds handled elsewhere (expire, by the upload
handlers) are in KINDS but not DECIDED and read `Faults.roll(kind)`."""

import random
import threading

from .wire import GraphError

STATUS = {
    "429": ("activityLimitReached", "The request has been throttled. "
            "Retry after the number of seconds in the Retry-After header."),
    "500": ("generalException", "An unexpected error occurred (emulated)."),
    "503": ("serviceNotAvailable", "The service is temporarily unavailable "
            "(emulated). Retry later."),
    "504": ("gatewayTimeout", "The gateway timed out (emulated)."),
}
DECIDED = set(STATUS) | {"reset", "drop", "slow"}   # handled by decide()
KINDS = DECIDED | {"expire"}       # expire: rolled by the upload handlers
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


class Fault:
    def __init__(self, kind, rate, arg):
        self.kind, self.rate, self.arg = kind, rate, arg

    def __repr__(self):
        return "%s:%g%s" % (self.kind, self.rate,
                            "" if self.arg is None else ":%g" % self.arg)


def parse(spec):
    """(faults, route substring or None, method or None); raises ValueError
    with a reason."""
    faults, route, method = [], None, None
    for element in (spec or "").split(","):
        element = element.strip()
        if not element:
            continue
        if element.startswith("route="):
            route = element[len("route="):]
            continue
        if element.startswith("method="):
            method = element[len("method="):].upper()
            if method not in METHODS:
                raise ValueError("bad method in '%s' (want one of %s)"
                                 % (element, ", ".join(METHODS)))
            continue
        parts = element.split(":")
        if len(parts) not in (2, 3) or parts[0] not in KINDS:
            raise ValueError("bad fault element '%s' (want kind:rate[:arg], "
                             "kind one of %s)" % (element,
                                                  ", ".join(sorted(KINDS))))
        try:
            rate = float(parts[1])
            arg = float(parts[2]) if len(parts) == 3 else None
        except ValueError:
            raise ValueError("bad number in fault element '%s'" % element)
        if not 0.0 <= rate <= 1.0 or (arg is not None and arg < 0):
            raise ValueError("rate must be in [0,1] and arg >= 0 in '%s'"
                             % element)
        faults.append(Fault(parts[0], rate, arg))
    return faults, route, method


class Decision:
    """What to do to one request: delay seconds, then maybe an error reply
    (error), a reset instead of a reply, or a drop after the work."""

    def __init__(self):
        self.delay = 0.0
        self.error = None
        self.abort = None


class Faults:
    def __init__(self, spec="", seed=1):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.spec = ""
        self.faults, self.route, self.method = [], None, None
        self.set(spec)

    def set(self, spec):
        faults, route, method = parse(spec)   # raises before changing
        with self.lock:
            self.spec, self.faults = spec or "", faults
            self.route, self.method = route, method

    def applies(self, path, graph, method=None):
        if self.method is not None and method is not None and \
                method != self.method:
            return False
        if self.route is not None:
            if self.route.endswith("$"):
                return path.endswith(self.route[:-1])
            return self.route in path
        return graph

    def roll(self, kind, path="", graph=True, method=None):
        """The fault of this kind if it fires for this request, else None."""
        with self.lock:
            if not self.applies(path, graph, method):
                return None
            for fault in self.faults:
                if fault.kind == kind and self.rng.random() < fault.rate:
                    return fault
        return None

    def decide(self, path, graph, method=None):
        decision = Decision()
        with self.lock:
            if not self.faults or not self.applies(path, graph, method):
                return decision
            hit = None
            for fault in self.faults:
                if fault.kind not in DECIDED:
                    continue
                fired = self.rng.random() < fault.rate
                if not fired:
                    continue
                if fault.kind == "slow":
                    decision.delay = fault.arg or 0.0
                elif hit is None:
                    hit = fault
        if hit is None:
            return decision
        if hit.kind in ("reset", "drop"):
            decision.abort = hit.kind
        elif hit.kind in STATUS:
            code, message = STATUS[hit.kind]
            headers = {}
            if hit.arg is not None and hit.kind in ("429", "503"):
                headers["Retry-After"] = "%d" % hit.arg
            decision.error = GraphError(int(hit.kind), code, message, headers)
        return decision
