"""Upload sessions (reference §4) and the documents they produce.

createUploadSession (printing.py) opens a session; its uploadUrl is
{base}/uploadSessions/{sid}?tempauthtoken={token} ({base} by default on
the other loopback name than the client used, as the service's are on
another host than Graph's: wire.Request.transfer_base), served here
without a bearer token:

  PUT    Content-Range: bytes a-b/total (or bytes=a-b/total),
         Content-Length: b-a+1, raw bytes
         -> 202 {"expirationDateTime","nextExpectedRanges":[every hole]}
         -> 201 {"id","documentName","contentType","size"} on the PUT that
            completes the document (the session is then gone)
  GET    -> 200 {"expirationDateTime","nextExpectedRanges"}
  DELETE -> 204, the session and its bytes are gone

Refusals: Authorization header present 401 unauthenticated; missing or
wrong tempauthtoken 401 unauthenticated; unknown, expired, completed or
deleted session 404 itemNotFound; no or malformed Content-Range 400
invalidRequest; total != session size 400 fragmentLengthMismatch; range
past the end or overlapping bytes already received (or being received by
another PUT) 416 invalidRange; no Content-Length (or chunked) 411
invalidRequest; Content-Length != b-a+1 400 invalidRequest; a PUT of
10 MiB (10485760 bytes) or more 413 invalidRequest.

Bytes never sit in memory: each session owns a sparse temp file written
with os.pwrite as a PUT's body streams in (1 MiB reads), so up to 4 (or
more) PUTs of one session run at once; a PUT reserves its range before
reading, which is what makes concurrent overlaps a 416. The PUT that
completes the file moves it into the document store and sets the job's
document properties (the job stays paused, details []). Its sha256 is
computed when first asked (Digest): hashing 256 MiB took 0.2 s here, which
the last PUT's reply would otherwise wait for, the client's time and not
the service's.

Everything lives under one temp directory the emulator owns (Uploads.root,
$TMPDIR/up-emulator-XXXX) and removes on exit: parts/{sid} (open
sessions), documents/{did}, and a pid file; a new emulator removes the
directories of emulators that died without cleaning up (SIGKILL).

Lock: Uploads.lock guards sessions, their ranges and the document index.
Order: State.lock, then Uploads.lock; never take State.lock while holding
Uploads.lock. A session's fd is closed only when no PUT is writing to it.
"""

import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from urllib.parse import parse_qs

from . import util
from .router import Router
from .wire import GraphError, Reply

MAX_CHUNK = 10 * 1024 * 1024     # a PUT must carry less than this
MAX_DOCUMENT = 1 << 30           # a print job is at most 1 GiB
READ_SIZE = 1 << 20

RANGE_RE = re.compile(r"^\s*bytes\s*[ =]\s*(\d+)\s*-\s*(\d+)\s*/\s*(\d+)\s*$",
                      re.IGNORECASE)


class Digest:
    """The sha256 of a stored document's file, computed once, when first
    asked (hexdigest), outside any other lock."""

    def __init__(self, path):
        self._path = path
        self._value = None
        self._lock = threading.Lock()

    def hexdigest(self):
        with self._lock:
            if self._value is None:
                digest = hashlib.sha256()
                with open(self._path, "rb") as fh:
                    while True:
                        data = fh.read(READ_SIZE)
                        if not data:
                            break
                        digest.update(data)
                self._value = digest.hexdigest()
            return self._value


def hexdigest(value):
    """A sha256 as a string: value is one, a Digest, or None."""
    return value.hexdigest() if isinstance(value, Digest) else value


class Session:
    """One open upload session. Ranges are inclusive [start, end] pairs."""

    def __init__(self, sid, token, state, jid, did, name, ctype, size,
                 expires, path, fd, replace=False):
        self.id, self.token = sid, token
        # The application whose new payload for a job it holds this is
        # (printing.py), or None: it replaces the uploaded document while
        # that application's task on the job is in processing.
        self.replace = replace
        self.state, self.job_id, self.doc_id = state, jid, did
        self.name, self.content_type, self.size = name, ctype, size
        self.expires = expires          # epoch seconds
        self.path, self.fd = path, fd
        self.received = []              # sorted, disjoint, merged
        self.inflight = []              # reserved by PUTs reading bodies
        self.closed = False             # removed; no new PUTs
        self.completed = False

    @property
    def expiration(self):
        return util.format_time(util.from_epoch(self.expires))

    def received_bytes(self):
        return sum(e - s + 1 for s, e in self.received)

    def holes(self):
        """The missing ranges as "start-end" strings."""
        out, pos = [], 0
        for start, end in self.received:
            if start > pos:
                out.append("%d-%d" % (pos, start - 1))
            pos = end + 1
        if pos < self.size:
            out.append("%d-%d" % (pos, self.size - 1))
        return out

    def overlaps(self, start, end):
        return any(s <= end and start <= e
                   for s, e in self.received + self.inflight)

    def add_received(self, start, end):
        merged = []
        for s, e in sorted(self.received + [[start, end]]):
            if merged and s <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.received = merged
        self.completed = merged == [[0, self.size - 1]]

    def status(self):
        return {"expirationDateTime": self.expiration,
                "nextExpectedRanges": self.holes()}


PREFIX = "up-emulator-"


def _sweep_dead():
    """Removes temp directories left by emulators that no longer run."""
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if not name.startswith(PREFIX):
            continue
        root = os.path.join(base, name)
        try:
            with open(os.path.join(root, "pid")) as fh:
                pid = int(fh.read().strip())
            os.kill(pid, 0)
            continue                    # its emulator still runs
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue                    # not ours to judge
        shutil.rmtree(root, ignore_errors=True)


class Uploads:
    def __init__(self, root=None):
        if root is None:
            _sweep_dead()
            root = tempfile.mkdtemp(prefix=PREFIX)
            with open(os.path.join(root, "pid"), "w") as fh:
                fh.write("%d\n" % os.getpid())
        self.root = root
        self.parts = os.path.join(self.root, "parts")
        self.docs = os.path.join(self.root, "documents")
        os.makedirs(self.parts, exist_ok=True)
        os.makedirs(self.docs, exist_ok=True)
        self.lock = threading.Lock()
        self.sessions = {}              # sid -> Session
        self.documents = {}             # document id -> {"path","sha256",..}

    # --- sessions (call under no lock or State.lock) -----------------------

    def create(self, state, jid, did, name, ctype, size, seconds,
               replace=False):
        """A new session for document did; it replaces any open one."""
        sid = util.new_id()
        path = os.path.join(self.parts, sid)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(fd, size)          # sparse
        sess = Session(sid, secrets.token_urlsafe(32), state, jid, did,
                       name, ctype, size, time.time() + seconds, path, fd,
                       replace)
        with self.lock:
            self._sweep_locked()
            for old in list(self.sessions.values()):
                if old.doc_id == did and old.state is state:
                    self._remove_locked(old)
            self.sessions[sid] = sess
        return sess

    def get(self, sid):
        """The live session sid, or None (an expired one is removed)."""
        with self.lock:
            sess = self.sessions.get(sid)
            if sess is not None and sess.expires <= time.time():
                self._remove_locked(sess)
                sess = None
            return sess

    def remove(self, sid):
        with self.lock:
            sess = self.sessions.get(sid)
            if sess is not None:
                self._remove_locked(sess)
            return sess is not None

    def drop_job(self, state, jid):
        """Removes the sessions of a job (canceled, aborted, deleted)."""
        with self.lock:
            for sess in list(self.sessions.values()):
                if sess.job_id == jid and sess.state is state:
                    self._remove_locked(sess)

    def sweep(self):
        with self.lock:
            self._sweep_locked()

    def _sweep_locked(self):
        now = time.time()
        for sess in list(self.sessions.values()):
            if sess.expires <= now:
                self._remove_locked(sess)

    def _remove_locked(self, sess):
        self.sessions.pop(sess.id, None)
        sess.closed = True
        self._release_locked(sess)

    def _release_locked(self, sess):
        """Frees a closed session's file once no PUT is writing to it."""
        if sess.closed and not sess.inflight and sess.fd is not None:
            os.close(sess.fd)
            sess.fd = None
            if not sess.completed:
                try:
                    os.unlink(sess.path)
                except FileNotFoundError:
                    pass

    # --- the PUT ------------------------------------------------------------

    def reserve(self, sess, start, end):
        with self.lock:
            if sess.closed:
                raise gone(sess.id)
            if sess.overlaps(start, end):
                raise GraphError(416, "invalidRange",
                                 "Uploaded fragment overlaps with existing "
                                 "data. Query the upload session for the "
                                 "ranges still expected.")
            sess.inflight.append([start, end])

    def unreserve(self, sess, start, end, received):
        """Ends a PUT's reservation; with received, its bytes count. Returns
        True if this PUT completed the document (the session is then
        closed and out of the table; its file is the caller's)."""
        with self.lock:
            sess.inflight.remove([start, end])
            if received and not sess.closed:
                sess.add_received(start, end)
                if sess.completed:
                    self.sessions.pop(sess.id, None)
                    sess.closed = True
                    return True
            closed = sess.closed
            self._release_locked(sess)
            if received and closed:
                raise gone(sess.id)
            return False

    def store(self, sess):
        """Moves a completed session's file into the document store; its
        hash (a Digest) and size, as the document index records them."""
        os.close(sess.fd)
        sess.fd = None
        path = os.path.join(self.docs, sess.doc_id)
        os.replace(sess.path, path)
        entry = {"path": path, "sha256": Digest(path),
                 "size": sess.size, "contentType": sess.content_type,
                 "documentName": sess.name}
        with self.lock:
            self.documents[sess.doc_id] = entry
        return entry

    # --- documents and housekeeping -----------------------------------------

    def document(self, did):
        with self.lock:
            entry = self.documents.get(did)
            return dict(entry) if entry else None

    def copy_document(self, src_did, dst_did):
        """Gives document dst_did the stored bytes of src_did (a hard link,
        else a copy; a redirected job, pulltasks.py). Returns the new entry,
        or None when src_did has no stored bytes."""
        entry = self.document(src_did)
        if entry is None or not os.path.exists(entry["path"]):
            return None
        path = os.path.join(self.docs, dst_did)
        try:
            os.link(entry["path"], path)
        except OSError:
            shutil.copyfile(entry["path"], path)
        entry = dict(entry, path=path)
        with self.lock:
            self.documents[dst_did] = entry
        return dict(entry)

    def forget_document(self, did):
        with self.lock:
            entry = self.documents.pop(did, None)
        if entry:
            # A redirected job's record shares the Digest (pulltasks.py).
            hexdigest(entry["sha256"])
            try:
                os.unlink(entry["path"])
            except FileNotFoundError:
                pass

    def listing(self):
        with self.lock:
            self._sweep_locked()
            return [{"id": s.id, "jobId": s.job_id, "documentId": s.doc_id,
                     "documentName": s.name, "contentType": s.content_type,
                     "size": s.size, "receivedBytes": s.received_bytes(),
                     "putsInFlight": len(s.inflight),
                     "expirationDateTime": s.expiration,
                     "nextExpectedRanges": s.holes()}
                    for s in self.sessions.values()]

    def clear(self):
        """Forgets every session and document (a tenant reset)."""
        with self.lock:
            for sess in list(self.sessions.values()):
                self._remove_locked(sess)
            docs, self.documents = self.documents, {}
        for entry in docs.values():
            try:
                os.unlink(entry["path"])
            except FileNotFoundError:
                pass

    def close(self):
        """At exit: everything, the directory included."""
        self.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def gone(sid):
    return GraphError(404, "itemNotFound",
                      "The upload session '%s' does not exist: it expired, "
                      "was completed or was deleted. Create a new upload "
                      "session." % sid)


def upload_url(base, sess):
    return "%s/uploadSessions/%s?tempauthtoken=%s" % (base, sess.id,
                                                       sess.token)


# --- the upload URL surface (handlers take (req, app)) -----------------------

def _unauthenticated(message):
    return GraphError(401, "unauthenticated", message)


def _session(req, app):
    """The session the request's URL names, after the checks every upload
    URL request gets (no bearer, token, existence, the expire fault)."""
    if "Authorization" in req.headers:
        raise _unauthenticated(
            "The upload URL is pre-authenticated: send no Authorization "
            "header with it.")
    sid = req.params["sid"]
    token = parse_qs(req.raw_query).get("tempauthtoken", [""])[0]
    sess = app.uploads.get(sid)
    if sess is None:
        raise gone(sid)
    if not token or not hmac.compare_digest(token.encode(),
                                            sess.token.encode()):
        raise _unauthenticated("The tempauthtoken of the upload URL is "
                               "missing or not valid for this session.")
    if app.faults.roll("expire", req.raw_path, True, req.method):
        app.uploads.remove(sid)
        raise gone(sid)
    return sess


def _range(req, sess):
    header = req.headers.get("Content-Range")
    if not header:
        raise GraphError(400, "invalidRequest",
                         "A Content-Range header (bytes start-end/total) is "
                         "required.")
    m = RANGE_RE.match(header)
    if not m:
        raise GraphError(400, "invalidRequest",
                         "Malformed Content-Range '%s': want 'bytes "
                         "start-end/total'." % header)
    start, end, total = (int(g) for g in m.groups())
    if total != sess.size:
        raise GraphError(400, "fragmentLengthMismatch",
                         "The declared total length %d differs from the "
                         "upload session's size %d." % (total, sess.size))
    if start > end:
        raise GraphError(400, "invalidRequest",
                         "Content-Range start %d is after its end %d."
                         % (start, end))
    if end >= sess.size:
        raise GraphError(416, "invalidRange",
                         "The range %d-%d goes past the end of the %d-byte "
                         "document." % (start, end, sess.size))
    return start, end


def put(req, app):
    sess = _session(req, app)
    start, end = _range(req, sess)
    want = end - start + 1
    stream = req.stream
    if stream is None or stream.length is None:
        raise GraphError(411, "invalidRequest",
                         "Content-Length is required (no chunked bodies).")
    if stream.length != want:
        raise GraphError(400, "invalidRequest",
                         "Content-Length %d does not match the %d bytes of "
                         "Content-Range %d-%d." % (stream.length, want,
                                                   start, end))
    if want >= MAX_CHUNK:
        raise GraphError(413, "invalidRequest",
                         "A fragment must be smaller than 10 MiB (%d bytes); "
                         "this one has %d." % (MAX_CHUNK, want))
    app.uploads.reserve(sess, start, end)
    try:
        stream.write_to(sess.fd, start, want)
    except BaseException:         # ClientGone above all: a hung-up PUT
        app.uploads.unreserve(sess, start, end, False)
        raise
    if not app.uploads.unreserve(sess, start, end, True):
        return Reply(202, sess.status())
    if sess.replace:
        # Checked and applied in one hold of the lock: a task finished
        # in between must not get the new payload.
        with sess.state.lock:
            if not _still_held(sess):
                app.uploads.remove(sess.id)
                raise GraphError(
                    403, "accessDenied", "The job's task is no longer in "
                    "processing: its document was not replaced.")
            _finish_document(sess, app.uploads.store(sess))
    else:
        _finish_document(sess, app.uploads.store(sess))
    return Reply(201, {"id": sess.doc_id, "documentName": sess.name,
                       "contentType": sess.content_type, "size": sess.size})


def _still_held(sess):
    """A replacement payload applies only while its application's task
    on the job is in processing (reference §3.0): a job released,
    redirected or ended meanwhile keeps the document it had. Under
    State.lock."""
    return sess.state.processing_task(sess.job_id, sess.replace) \
        is not None


def _finish_document(sess, entry):
    """Gives the job its document: properties set, upload no longer
    pending (a replacement: the new payload of a held job). A job
    canceled or deleted meanwhile is left alone."""
    state = sess.state
    with state.lock:
        rec = state.jobs.get(sess.job_id)
        if rec is None:
            return
        for doc in rec["documents"]:
            if doc["id"] == sess.doc_id:
                break
        else:
            return
        status = rec["status"]
        if not sess.replace and (status["state"] != "paused" or
                                 "uploadPending" not in status["details"]):
            return
        doc.update({"displayName": sess.name,
                    "contentType": sess.content_type, "size": sess.size,
                    "uploadedDateTime": util.now_str()})
        if not sess.replace:        # a held job stays held
            rec["status"] = dict(status, details=[])
        rec["_sha256"] = entry["sha256"]


def status(req, app):
    return Reply(200, _session(req, app).status())


def delete(req, app):
    sess = _session(req, app)
    app.uploads.remove(sess.id)
    return Reply(204)


def router():
    r = Router()
    r.add("PUT", "/uploadSessions/{sid}", put)
    r.add("GET", "/uploadSessions/{sid}", status)
    r.add("DELETE", "/uploadSessions/{sid}", delete)
    return r
