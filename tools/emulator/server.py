"""The HTTP/1.1 transport: a ThreadingHTTPServer whose handler reads a
request (Content-Length or chunked body), hands it to App.dispatch, and
writes the Reply in one write with Content-Length, keeping the connection
alive. Faults that reset or drop a connection, or cut a reply short
(truncated, stall), are carried out here.

Bodies of PUTs to upload URLs (App.streams) are not read here: the handler
gets a BodyStream and writes the bytes to disk as they arrive. Whatever it
leaves unread is drained after it returns (or the connection is closed).
A reply whose body is a StreamBody (document downloads) is written as its
head, then piece by piece."""

import http
import re
import socket
import ssl
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .wire import BodyStream, ClientGone, Request, StreamBody

DRAIN_LIMIT = 64 << 20      # unread body bytes worth reading to keep alive
MAX_HEADERS = 100           # as http.client's parser allows
MAX_LINE = 65536
# A request target in absolute form starts with its scheme (RFC 9112
# 3.2.2); "/v1.0/http://..." is a path (a client that took a link for
# one), answered as such.
ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class Headers:
    """A request's header fields by name, case-insensitively; a repeated
    field keeps its first value, as email.message's get() gives.
    http.server reads them with the email package, which took a third of
    the emulator's CPU per request (cProfile of 200 small documents)."""

    __slots__ = ("fields", "last")

    def __init__(self):
        self.fields = {}
        self.last = None

    def add(self, line):
        """One header line, decoded; False when it is no field (no
        colon, or white space before it: RFC 9112 section 5.1)."""
        if line[:1] in (" ", "\t"):            # obsolete line folding
            if self.last is None:
                return False
            if self.last:                       # not a repeat's
                self.fields[self.last] += " " + line.strip()
            return True
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return False
        name = name.lower()
        if name not in self.fields:
            self.fields[name] = value.strip()
            self.last = name
        else:
            self.last = ""                      # a repeat, folds and all
        return True

    def get(self, name, default=None):
        return self.fields.get(name.lower(), default)

    def __contains__(self, name):
        return name.lower() in self.fields

    def items(self):
        return self.fields.items()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "up-emulator/1.0"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app.counter.connection()
        if isinstance(self.connection, ssl.SSLSocket):
            # In this connection's thread, not the accept loop's.
            self.connection.do_handshake()
            self.server.app.counter.handshake()

    def parse_request(self):
        """http.server's, reading the header block into Headers. Request
        lines other than "METHOD target HTTP/1.x" go to http.server's own
        parser, with its errors."""
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            return super().parse_request()
        self.requestline = line
        self.command, self.path, self.request_version = words
        self.close_connection = self.request_version == "HTTP/1.0"
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")     # as http.server
        headers = Headers()
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(431, "Line too long")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            if not headers.add(raw.decode("iso-8859-1").rstrip("\r\n")):
                self.send_error(400, "Bad header line", repr(raw[:80]))
                return False
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers
        conntype = headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if headers.get("Expect", "").lower() == "100-continue" and \
                self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("up-emulator: %s %s\n" % (
                self.address_string(), fmt % args))

    # --- reading -------------------------------------------------------------

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        return self.rfile.read(int(length))

    def _read_chunked(self):
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass            # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _serve(self):
        path, _, query = self.path.partition("?")
        if ABSOLUTE_FORM.match(path):          # "GET http://host/p HTTP/1.1"
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        path = path.rstrip("/") or "/"
        stream = None
        if self.command == "PUT" and self.server.app.streams(path):
            plain = None if isinstance(self.connection, ssl.SSLSocket) \
                else self.connection
            stream, body = BodyStream(self.rfile, self.headers, plain), b""
        else:
            try:
                body = self._read_body()
            except ValueError:
                self.send_error(400, "Bad request body")
                return
        host = self.headers.get("Host") or self.server.host_port
        req = Request(self.command, path, query, self.headers, body,
                      "%s://%s" % (self.server.scheme, host))
        req.stream = stream
        try:
            reply = self.server.app.dispatch(req)
        except ClientGone:
            self.close_connection = True
            return
        try:
            self._write(req, reply, stream)
        finally:
            if isinstance(reply.body, StreamBody):
                reply.body.close()

    def _write(self, req, reply, stream):
        if reply.delay:
            time.sleep(reply.delay)
        if reply.abort == "reset":
            self._reset()
            return
        if stream is not None and not stream.done and \
                not stream.drain(DRAIN_LIMIT):
            self.close_connection = True
        head, payload = self._encode(req, reply)
        if reply.abort == "drop":
            self._reset()
            return
        if reply.cut and not isinstance(payload, StreamBody) and \
                self.command != "HEAD":
            self._write_cut(reply, head, payload)
            return
        if not isinstance(payload, StreamBody):
            self.wfile.write(head + payload)
            self.log_request(reply.status, len(head) + len(payload))
            return
        self.wfile.write(head)
        sent = 0
        if self.command != "HEAD":
            for chunk in payload.chunks():
                self.wfile.write(chunk)
                sent += len(chunk)
            if sent != payload.length:      # the source shrank: a short
                self.close_connection = True    # body must end the link
        self.log_request(reply.status, len(head) + sent)

    # --- writing -------------------------------------------------------------

    def _encode(self, req, reply):
        """(head bytes, body bytes or the StreamBody to write after)."""
        payload, ctype = reply.payload()
        try:
            phrase = http.HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Status"
        head = ["HTTP/1.1 %d %s" % (reply.status, phrase),
                "Date: " + self.date_time_string(
                    time.time() + self.server.app.clock_skew),
                "Server: " + self.server_version,
                "request-id: " + req.request_id,
                "client-request-id: " + (req.client_request_id or
                                         req.request_id)]
        if ctype:
            head.append("Content-Type: " + ctype)
        if req.version:
            head.append("OData-Version: 4.0")
        for key, value in reply.headers.items():
            head.append("%s: %s" % (key, value))
        length = payload.length if isinstance(payload, StreamBody) \
            else len(payload)
        head.append("Content-Length: %d" % length)
        if self.close_connection:
            head.append("Connection: close")
        if self.command == "HEAD" and not isinstance(payload, StreamBody):
            payload = b""
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"), \
            payload

    def _write_cut(self, reply, head, payload):
        """The head (its Content-Length the whole body's) and half the
        body; for a stall, then silence on an open connection; then the
        connection closes (faults.py: truncated, stall)."""
        part = payload[:max(1, len(payload) // 2)]
        self.close_connection = True
        try:
            self.wfile.write(head + part)
            self.wfile.flush()
        except OSError:
            return
        if reply.cut == "stall":
            time.sleep(reply.stall)
        self.log_message('"%s" cut short by fault (%s, %d of %d bytes)',
                         self.requestline, reply.cut, len(part),
                         len(payload))

    def _reset(self):
        """Closes the connection with an RST and no reply."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        # Closing here (the fd goes when rfile/wfile close in finish())
        # keeps socketserver from sending a FIN with shutdown(SHUT_WR).
        self.connection.close()
        self.log_message('"%s" reset by fault', self.requestline)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, app, verbose=False, tls=None):
        """tls: an ssl.SSLContext to serve HTTPS with, or None."""
        self.app = app
        self.verbose = verbose
        self.scheme = "https" if tls else "http"
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)
        host, port = self.server_address[:2]
        if ":" in host:
            host = "[%s]" % host
        self.host_port = "%s:%d" % (host, port)

    @property
    def base_url(self):
        return "%s://%s" % (self.scheme, self.host_port)

    def handle_error(self, request, client_address):
        # A client hanging up mid-reply is normal for tests; be quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, ssl.SSLError)):
            return
        super().handle_error(request, client_address)
