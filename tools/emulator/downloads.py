"""Document downloads (reference §3.0 #22, §3.3 "Download"): the Graph
`$value` route answers with a redirect to a pre-authenticated download
URL, served here outside Graph auth like the upload URLs (uploads.py).

  GET /print/{printers|shares|printerShares}/{id}/jobs/{jid}/documents/
      {did}/$value
      -> 302 Found, no body, Location: {base}/downloads/{guid}?
         tempauthtoken={token} ({base}: as the upload URLs'; a new
         URL each time; it works for "downloadUrlSeconds" of POST
         /_emulator, default 3600: the service's lifetime is not
         documented).
  GET {base}/downloads/{guid}?tempauthtoken={token}      (no bearer token)
      -> 200 the document's bytes, Content-Type the document's contentType,
         exact Content-Length, Accept-Ranges: bytes
      -> 206 with Content-Range for `Range: bytes=a-b`, `bytes=a-` or
         `bytes=-n` (one range; a malformed or multi-range header is
         ignored and the whole document sent, as RFC 9110 allows; with
         the downloadsIgnoreRange setting every Range is; with
         downloadsRangeAlign N > 0 a range is answered with the whole
         N-byte blocks it falls in, as a host serving from cached blocks
         may: from the byte asked for rounded down to a multiple of N)
  HEAD of either: the same headers, no body.

Who may read ($value): the job's creator; a Printer Administrator whose
token carries PrintJob.Read.All or PrintJob.ReadWrite.All for anyone's job
(records.reads_others_jobs); app-only tokens (their PrintJob.Read.All). Anyone else: 403 accessDenied. The check is the same on
the printer and the share paths.

Refusals: $value: 404 itemNotFound for an unknown printer, share, job or
document, or a document with nothing to serve (not uploaded yet, or
uploaded before an emulator restart so its bytes are gone). The download
URL: an Authorization header 401 unauthenticated (as the upload URL);
unknown or expired URL, or a job or document deleted since, 404
itemNotFound; a missing or wrong tempauthtoken 401 unauthenticated; a
range starting past the end 416 invalidRange (Content-Range: bytes */size).

The bytes: the uploaded document when there is one (Uploads keeps it on
disk; it is streamed, never read whole into memory); otherwise, for jobs
the tenant was seeded with or /_emulator/jobs made, deterministic synthetic
bytes of exactly the document's `size` (Synthetic: a PDF header for
application/pdf, a hex filler derived from the job and document ids, a
%%EOF trailer), so tests can check them byte for byte. GET
/_emulator/jobs/{jid}/document reports the sha256 of what is served
(fingerprint()).

Lock: Downloads.lock guards the URL table. Order: State.lock, then
Uploads.lock or Downloads.lock."""

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from urllib.parse import parse_qs

from . import graph_print, records, uploads, util
from .router import Router
from .wire import GraphError, Reply, StreamBody, not_found

READ_SIZE = 1 << 20
RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.I)


class Link:
    """One download URL: /downloads/{id}?tempauthtoken={token}."""

    def __init__(self, lid, token, state, jid, did, expires):
        self.id, self.token = lid, token
        self.state, self.job_id, self.doc_id = state, jid, did
        self.expires = expires          # epoch seconds


class Downloads:
    def __init__(self):
        self.lock = threading.Lock()
        self.links = {}                 # id -> Link

    def create(self, state, jid, did, seconds):
        link = Link(util.new_id(), secrets.token_urlsafe(32), state, jid,
                    did, time.time() + seconds)
        with self.lock:
            now = time.time()
            for old in list(self.links.values()):
                if old.expires <= now:
                    del self.links[old.id]
            self.links[link.id] = link
        return link

    def get(self, lid):
        """The live link lid, or None (an expired one is dropped)."""
        with self.lock:
            link = self.links.get(lid)
            if link is not None and link.expires <= time.time():
                del self.links[lid]
                link = None
            return link

    def clear(self):
        with self.lock:
            self.links = {}


def url(base, link):
    return "%s/downloads/%s?tempauthtoken=%s" % (base, link.id, link.token)


# --- what a document's bytes are ---------------------------------------------

class Synthetic:
    """The made-up content of a document nobody uploaded: exactly `size`
    bytes, a pure function of (job id, document id, content type, size)."""

    def __init__(self, jid, did, content_type, size):
        self.size = max(0, int(size))
        if "pdf" in (content_type or "").lower():
            head = ("%%PDF-1.4\n%% up-emulator synthetic document: print "
                    "job %s, document %s\n" % (jid, did)).encode()
            tail = b"\n%%EOF\n"
        else:
            head = ("up-emulator synthetic document: print job %s, "
                    "document %s (%s)\n" % (jid, did, content_type)).encode()
            tail = b"\n"
        if self.size < len(head) + len(tail):
            head, tail = (head + tail)[:self.size], b""
        self.head, self.tail = head, tail
        self.fill_end = self.size - len(tail)
        unit = (hashlib.sha256(("%s/%s" % (jid, did)).encode())
                .hexdigest() + "\n").encode()
        self.unit = len(unit)
        self.block = unit * (READ_SIZE // len(unit) + 2)

    def _piece(self, pos, end):
        """Up to READ_SIZE bytes from pos (before end)."""
        end = min(end, pos + READ_SIZE)
        if pos < len(self.head):
            return self.head[pos:min(end, len(self.head))]
        if pos < self.fill_end:
            k = (pos - len(self.head)) % self.unit
            return self.block[k:k + min(end, self.fill_end) - pos]
        start = pos - self.fill_end
        return self.tail[start:start + end - pos]

    def chunks(self, start=0, end=None):
        """The bytes [start, end) in pieces."""
        end = self.size if end is None else end
        pos = start
        while pos < end:
            piece = self._piece(pos, end)
            pos += len(piece)
            yield piece


def source(app, state, rec, doc):
    """What $value serves for doc of job rec: {"size", "path"} for an
    uploaded file, {"size", "synthetic"} otherwise. 404 when there is
    nothing to serve. Call under State.lock."""
    if not doc.get("uploadedDateTime"):
        raise GraphError(404, "itemNotFound",
                         "The document '%s' of print job '%s' has no content: "
                         "it has not been uploaded." % (doc["id"], rec["id"]))
    entry = app.uploads.document(doc["id"])
    if entry and os.path.exists(entry["path"]):
        return {"size": entry["size"], "path": entry["path"],
                "sha256": entry["sha256"]}
    if rec.get("_sha256"):
        raise GraphError(404, "itemNotFound",
                         "The content of document '%s' is gone: it was "
                         "uploaded before the emulator restarted."
                         % doc["id"])
    return {"size": doc["size"], "synthetic": Synthetic(
        rec["id"], doc["id"], doc.get("contentType"), doc["size"])}


def fingerprint(app, state, rec, doc):
    """{"sha256", "path", "synthetic"} of what $value serves for doc, or
    None if nothing. An upload whose bytes are gone keeps its hash (path
    None). Hashing synthetic bytes happens outside State.lock."""
    with state.lock:
        if rec.get("_sha256"):
            entry = app.uploads.document(doc["id"])
            path = entry["path"] if entry and os.path.exists(entry["path"]) \
                else None
            uploaded = rec["_sha256"]
        else:
            uploaded = None
    if uploaded:            # hashed out of State.lock
        return {"sha256": uploads.hexdigest(uploaded), "path": path,
                "synthetic": False}
    with state.lock:
        try:
            src = source(app, state, rec, doc)
        except GraphError:
            return None
    digest = hashlib.sha256()
    for piece in src["synthetic"].chunks():
        digest.update(piece)
    return {"sha256": digest.hexdigest(), "path": None, "synthetic": True}


# --- the Graph route ---------------------------------------------------------

def _document(rec, did):
    for doc in rec["documents"]:
        if doc["id"] == did:
            return doc
    raise not_found("printDocument", did)


def may_read(req, state, rec):
    """403 unless the caller may read job rec: an app, its creator, or a
    Printer Administrator with a scope that reads others' documents."""
    if req.claims.get("kind") == "app":
        return
    upn = (req.claims.get("upn") or "").lower()
    uid = state.user_by_upn.get(upn)
    user = state.users.get(uid) if uid else None
    if user is not None and (rec.get("createdBy") or {}).get("id") == uid:
        return
    if records.reads_others_jobs(user, req.claims,
                                 records.OTHERS_DOCUMENTS_SCOPES):
        return
    raise GraphError(403, "accessDenied",
                     "Print job '%s' belongs to another user; reading it "
                     "needs the Printer Administrator role and "
                     "PrintJob.Read.All or PrintJob.ReadWrite.All."
                     % rec["id"])


def value(req, state):
    app = req.app
    with state.lock:
        index, owner, _ = graph_print._owner(req, state)
        rec = state.job_in(index, owner, req.params["jid"])
        doc = _document(rec, req.params["did"])
        may_read(req, state, rec)
        source(app, state, rec, doc)
        link = app.downloads.create(state, records.job_key(rec), doc["id"],
                                    app.download_seconds)
    return Reply(302, None, {"Location": url(req.transfer_base, link)})


# --- the download URL (handlers take (req, app)) -----------------------------

def _range(header, size):
    """(start, end inclusive) of a one-range Range header, or None for
    the whole document; 416 when it starts past the end."""
    m = RANGE_RE.match(header or "")
    if not m or not (m.group(1) or m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None                 # invalid: ignored
    else:
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            start = size                # a zero-byte suffix: unsatisfiable
    if start >= size:
        raise GraphError(416, "invalidRange",
                         "The range starts past the end of the %d-byte "
                         "document." % size,
                         {"Content-Range": "bytes */%d" % size})
    return start, end


def _file_body(path, start, end):
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise GraphError(404, "itemNotFound", "The document is gone.") \
            from None

    def chunks():
        pos = start
        while pos <= end:
            data = os.pread(fh.fileno(), min(READ_SIZE, end + 1 - pos), pos)
            if not data:
                return
            pos += len(data)
            yield data
    return StreamBody(end - start + 1, chunks, fh.close)


def download(req, app):
    if "Authorization" in req.headers:
        raise GraphError(401, "unauthenticated",
                         "The download URL is pre-authenticated: send no "
                         "Authorization header with it.")
    lid = req.params["id"]
    link = app.downloads.get(lid)
    state = app.state
    if link is None or link.state is not state:
        raise GraphError(404, "itemNotFound",
                         "The download URL '%s' does not exist or has "
                         "expired; ask for the document's $value again."
                         % lid)
    token = parse_qs(req.raw_query).get("tempauthtoken", [""])[0]
    if not token or not hmac.compare_digest(token.encode(),
                                            link.token.encode()):
        raise GraphError(401, "unauthenticated",
                         "The tempauthtoken of the download URL is missing "
                         "or not valid.")
    with state.lock:
        rec = state.jobs.get(link.job_id)
        if rec is None:
            raise not_found("printJob", link.job_id)
        doc = _document(rec, link.doc_id)
        src = source(app, state, rec, doc)
        ctype = doc.get("contentType") or "application/octet-stream"
    size = src["size"]
    rng = None if app.downloads_ignore_range else \
        _range(req.headers.get("Range"), size)
    start, end = rng if rng else (0, size - 1)
    if rng and app.downloads_range_align:
        block = app.downloads_range_align
        start -= start % block
        end = min(end - end % block + block - 1, size - 1)
    if src.get("path"):
        body = _file_body(src["path"], start, end)
    else:
        synthetic = src["synthetic"]
        body = StreamBody(end - start + 1,
                          lambda: synthetic.chunks(start, end + 1))
    headers = {"Content-Type": ctype, "Accept-Ranges":
               "none" if app.downloads_ignore_range else "bytes"}
    if rng:
        headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, size)
    return Reply(206 if rng else 200, body, headers)


def register(router):
    """The $value routes on the Graph router."""
    for owner in ("printers", "shares", "printerShares"):
        router.add("GET", "/print/%s/{id}/jobs/{jid}/documents/{did}/$value"
                   % owner, value)


def router():
    """The download URL surface (App.dispatch sends /downloads/... here)."""
    r = Router()
    r.add("GET", "/downloads/{id}", download)
    return r
