"""What travels between the HTTP server and the handlers: the parsed
Request, the Reply, and GraphError with the Graph error envelope."""

import fcntl
import json
import os
import select
import urllib.parse

from . import util

PIPE_SIZE = 1 << 20     # what an unprivileged process may ask for
# A body with no more than this left to come is read and written, not
# spliced: a pipe costs six system calls (and as many GIL hand-offs) per
# body, a small document's body two.
SPLICE_MIN = 64 << 10

JSON_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
             "IEEE754Compatible=false;charset=utf-8")


# The name a transfer URL gets when the client used the other (see
# Request.transfer_base). Both are in the --tls certificate.
OTHER_LOOPBACK_NAME = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


class Request:
    """One parsed HTTP request. `path` is the part after the version
    segment for Graph calls ("/print/printers"), the full path otherwise."""

    def __init__(self, method, raw_path, raw_query, headers, body, base):
        self.method = method
        self.raw_path = raw_path      # as sent, without the query
        self.raw_query = raw_query    # as sent, without the '?'
        self.headers = headers        # case-insensitive Message
        self.body = body              # bytes
        self.base = base              # "http://host:port" as the client saw it
        self.version = None           # "v1.0" / "beta" on the Graph surface
        self.path = raw_path
        self.request_id = util.new_id()
        self.client_request_id = headers.get("client-request-id")
        self.claims = None            # verified token payload (Graph surface)
        self.route = None             # the matched router.Route
        self.params = {}              # template parameters, decoded
        self.stream = None            # BodyStream of an unread body (upload
                                      # PUTs), else None and body holds it
        self.app = None               # the App serving it (set by dispatch)

    @property
    def transfer_base(self):
        """The base of the pre-authenticated upload and download URLs.
        The service serves them from another host than Graph's
        (print.print.microsoft.com), where a client that adds its token
        by host name (Microsoft's SDKs) sends none. So by default a
        client of 127.0.0.1 gets them on localhost and one of localhost
        on 127.0.0.1 (any other: its own host); App.transfer_host
        (--transfer-host) names another host, or "same" for the
        request's own. The port is the request's."""
        parts = urllib.parse.urlsplit(self.base)
        host = self.app.transfer_host if self.app else "same"
        if host is None:
            host = OTHER_LOOPBACK_NAME.get(parts.hostname, "same")
        try:
            port = parts.port
        except ValueError:          # a Host header whose port is no port
            host = "same"
        if host == "same":
            return self.base
        if ":" in host.strip("[]"):
            host = "[%s]" % host.strip("[]")    # an IPv6 address
        return "%s://%s%s" % (parts.scheme, host,
                              ":%d" % port if port else "")

    @property
    def graph_base(self):
        """'{base}/{version}', the root for contexts and nextLinks."""
        return "%s/%s" % (self.base, self.version)

    @property
    def include_unknown_enums(self):
        prefer = self.headers.get("Prefer", "")
        return "include-unknown-enum-members" in prefer.lower()

    def json(self):
        """The body parsed as a JSON object; GraphError 400 otherwise."""
        if not self.body:
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GraphError(400, "BadRequest",
                             "Invalid JSON in request body: %s" % exc)
        if not isinstance(value, dict):
            raise GraphError(400, "BadRequest",
                             "The request body must be a JSON object.")
        return value


class ClientGone(Exception):
    """The client hung up (or sent less than it announced) while a handler
    was reading its body; the server closes the connection quietly."""


class BodyStream:
    """A request body the handler reads itself, in pieces, so large bodies
    never sit in memory. `length` is the Content-Length (None when absent,
    chunked or malformed: such a body cannot be streamed or drained).
    `sock` is the plain (not TLS) socket it arrives on, or None: write_to
    then splices a body of more than SPLICE_MIN bytes into a file without
    copying it through Python, so a large PUT costs the emulator next to
    no CPU and never holds the GIL while the bytes move (the upload
    baselines measure the client, not the emulator)."""

    def __init__(self, rfile, headers, sock=None):
        self.rfile = rfile
        self.sock = sock
        self._reader_empty = False
        self.length = None
        if "chunked" not in headers.get("Transfer-Encoding", "").lower():
            try:
                value = int(headers.get("Content-Length", ""))
                self.length = value if value >= 0 else None
            except ValueError:
                pass
        self.remaining = self.length or 0

    @property
    def done(self):
        return self.length is not None and self.remaining == 0

    def read(self, size):
        """Up to size bytes (fewer only at the end); ClientGone on EOF."""
        size = min(size, self.remaining)
        if size <= 0:
            return b""
        try:
            data = self.rfile.read(size)
        except OSError as exc:
            raise ClientGone(str(exc)) from None
        if len(data) < size:
            raise ClientGone("body ended %d bytes early"
                             % (self.remaining - len(data)))
        self.remaining -= len(data)
        return data

    def write_to(self, fd, pos, count):
        """Writes the next count bytes of the body into fd at pos;
        ClientGone on EOF. Any other error leaves the body unreadable (the
        connection is then closed, not drained)."""
        if count > self.remaining:
            raise ValueError("past the end of the body")
        end = pos + count
        try:
            # remaining only falls: once read this way, never spliced,
            # which would skip what the reader had buffered.
            if self.sock is None or self.remaining <= SPLICE_MIN:
                while pos < end:
                    pos = self._pwrite(fd, pos,
                                       self.read(min(1 << 20, end - pos)))
                return
            # First what the reader holds: peek() returns all of it, and
            # reads the socket only when it holds nothing. Once that is
            # taken whole, the rest of the body is still in the socket.
            if not self._reader_empty:
                held = len(self.rfile.peek(1))
                pos = self._pwrite(fd, pos, self.read(min(held, end - pos)))
                self._reader_empty = held <= count
            if pos < end:
                self._splice(fd, pos, end)
        except ClientGone:
            raise
        except BaseException:
            self.length = None
            raise

    @staticmethod
    def _pwrite(fd, pos, data):
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, pos)
            view, pos = view[n:], pos + n
        return pos

    def _splice(self, fd, pos, end):
        rd, wr = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                fcntl.fcntl(wr, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass            # a smaller pipe: more rounds, same bytes
            while pos < end:
                got = self._splice_in(wr, end - pos)
                self.remaining -= got
                done = 0
                while done < got:
                    done += os.splice(rd, fd, got - done,
                                      offset_dst=pos + done)
                pos += got
        finally:
            os.close(rd)
            os.close(wr)

    def _splice_in(self, wr, count):
        while True:
            try:
                got = os.splice(self.sock.fileno(), wr, count)
            except BlockingIOError:
                select.select([self.sock], [], [])
                continue
            except OSError as exc:
                raise ClientGone(str(exc)) from None
            if got == 0:
                raise ClientGone("body ended %d bytes early"
                                 % self.remaining)
            return got

    def drain(self, limit):
        """Reads and discards the rest if it is at most limit bytes; False
        if it cannot (then the connection must be closed)."""
        if self.length is None or self.remaining > limit:
            return False
        try:
            while self.remaining:
                self.read(1 << 20)
        except ClientGone:
            return False
        return True


class StreamBody:
    """A reply body too large to build in memory (a document download):
    `length` bytes that chunks() yields in pieces. close() releases what it
    holds (an open file); the server calls it whether or not it wrote the
    body."""

    def __init__(self, length, chunks, close=None):
        self.length = length
        self._chunks = chunks
        self._close = close

    def chunks(self):
        return self._chunks()

    def close(self):
        if self._close is not None:
            self._close()
            self._close = None


class Reply:
    """A response to write. `body` is a JSON-able object, bytes, a
    StreamBody, or None.
    `abort` asks the server to reset the connection: "reset" instead of
    replying, "drop" after the work is done (both set by faults).
    `delay` is seconds to wait before replying.
    `cut` asks the server to send the head and only half the body, then
    close: "truncated" at once, "stall" after `stall` seconds of silence
    (both set by faults)."""

    def __init__(self, status=200, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.abort = None
        self.delay = 0.0
        self.cut = None
        self.stall = 0.0

    def payload(self):
        """(bytes or a StreamBody, content type or None)."""
        if self.body is None:
            return b"", None
        if isinstance(self.body, (bytes, StreamBody)):
            return self.body, self.headers.pop("Content-Type",
                                               "application/octet-stream")
        data = json.dumps(self.body, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        return data, self.headers.pop("Content-Type", JSON_TYPE)


class GraphError(Exception):
    """An error reply in the Graph envelope."""

    def __init__(self, status, code, message, headers=None,
                 inner_code=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner_code = inner_code    # a detailed code in innerError

    def reply(self, req):
        inner = {
            "date": util.error_date(),
            "request-id": req.request_id,
            "client-request-id": req.client_request_id or req.request_id,
        }
        if self.inner_code:
            inner["code"] = self.inner_code
        body = {"error": {"code": self.code, "message": self.message,
                          "innerError": inner}}
        return Reply(self.status, body, self.headers)


def not_found(kind, key):
    return GraphError(404, "itemNotFound",
                      "The %s '%s' was not found." % (kind, key))
