"""The /print surface (read side): printers, shares, jobs, documents,
connectors, services, settings, operations. The printing write side (job
create, createUploadSession, start, cancel, abort) is in printing.py, share
management and access lists in sharing.py, printer registration and
administration, connectors and settings in admin.py, document `$value`
downloads in downloads.py, pull printing (task definitions, tasks,
triggers, job update and redirect) in pulltasks.py. Other write routes
are listed in PLANNED and answer 501 until their issue lands; to add one,
write a handler and register it instead of planning it.

Jobs under a printer or a share (/print/printers/{id}/jobs...,
/print/shares/{id}/jobs...): a delegated caller sees only the jobs they
created unless they are a Printer Administrator and their token carries one
of the .All job scopes (reference §3.0; the list pages of both paths: "To
read print jobs from another user, the signed in user needs to be a print
administrator and have the PrintJob.ReadBasic.All, PrintJob.Read.All,
PrintJob.ReadWriteBasic.All, or PrintJob.ReadWrite.All permission"): the list
leaves the others out, GET of one of them (or of its documents) is 403
accessDenied. App-only tokens see every job.

A token that may not read printers (none of Printer.Read.All,
Printer.ReadWrite.All, Printer.FullControl.All in its scp or roles) gets
shares without their printer whatever $expand says, and GET
/print/shares/{id}/printer is 403 (render.may_read_printers)."""

from . import odata, records, render
from .odata import COLLECTION_OPTIONS, ENTITY_OPTIONS
from .wire import GraphError, Reply, not_found

PRINTERS_CAP = 100      # the real service never pages printers above 100
OTHER_CAP = 999
JOB_FILTERS = ("createdBy/userPrincipalName", "isFetchable")


# --- shared helpers ----------------------------------------------------------

def collection(req, fragment, value, next_seq, select=None):
    if fragment.startswith("Collection("):
        select = None           # Graph writes no projection on these
    body = {"@odata.context": odata.context(req, fragment, select)}
    if next_seq is not None:
        body["@odata.nextLink"] = odata.next_link(req, next_seq)
    body["value"] = value
    return Reply(200, body)


def entity(req, fragment, obj, select=None, odata_type=None):
    body = {"@odata.context": odata.context(req, fragment, select,
                                            entity=True)}
    if odata_type:
        body["@odata.type"] = odata_type
    body.update(obj)
    return Reply(200, body)


def list_of(req, state, type_name, fragment, keys, seq_of, get, render_one,
            cap=OTHER_CAP, options=COLLECTION_OPTIONS, filters=()):
    """A paged collection of keys (sorted by seq_of). Call under the lock."""
    if filters:
        options = options | {"$filter"}
    q = odata.Query(req.raw_query, options, type_name)
    predicate = odata.filter_predicate(q, filters, get)
    page, nxt = odata.page(keys, seq_of, q, q.page_size(req.page_size, cap),
                           predicate)
    value = [render_one(get(k), q) for k in page]
    return collection(req, fragment, value, nxt, q.select)


def _share_coll(req):
    """"shares" or the beta alias "printerShares", as the client asked."""
    return req.route.segments[1]


# --- printers ----------------------------------------------------------------

def list_printers(req, state):
    with state.lock:
        c = state.printers
        return list_of(
            req, state, "printer", "print/printers", c.ids, c.seq_of, c.get,
            lambda r, q: render.printer(state, req, r, q.select, q.expand),
            cap=PRINTERS_CAP)


def get_printer(req, state):
    q = odata.Query(req.raw_query, ENTITY_OPTIONS, "printer")
    with state.lock:
        rec = state.printer(req.params["id"])
        obj = render.printer(state, req, rec, q.select, q.expand, single=True)
    return entity(req, "print/printers", obj, q.select)


def printer_shares(req, state):
    with state.lock:
        rec = state.printer(req.params["id"])
        sids = state.shares_by_printer.get(rec["id"], [])
        return list_of(
            req, state, "printerShare",
            "print/printers('%s')/shares" % rec["id"], sids,
            state.shares.seq_of, state.shares.get,
            lambda r, q: render.share(state, req, r, q.select, q.expand))


def printer_share(req, state):
    q = odata.Query(req.raw_query, ENTITY_OPTIONS, "printerShare")
    with state.lock:
        rec = state.printer(req.params["id"])
        sid = req.params["sid"]
        if sid not in state.shares_by_printer.get(rec["id"], []):
            raise not_found("printerShare", sid)
        obj = render.share(state, req, state.shares.get(sid), q.select,
                           q.expand, single=True)
    return entity(req, "print/printers('%s')/shares" % rec["id"], obj,
                  q.select)


def printer_connectors(req, state):
    with state.lock:
        rec = state.printer(req.params["id"])
        conns = state.c["connectors"]
        cids = [c for c in rec.get("_connectorIds", []) if c in conns.by_id]
        return list_of(
            req, state, "printConnector",
            "print/printers('%s')/connectors" % rec["id"], cids,
            conns.seq_of, conns.get,
            lambda r, q: render.connector(r, q.select))


# --- jobs and documents (under a printer or a share) -------------------------

def _owner(req, state):
    """(index, owner id, context fragment of the owner) for a jobs path."""
    if req.route.segments[1] == "printers":
        rec = state.printer(req.params["id"])
        return state.jobs_by_printer, rec["id"], "print/printers('%s')" % \
            rec["id"]
    rec = state.share(req.params["id"])
    return state.jobs_by_share, rec["id"], "print/%s('%s')" % (
        _share_coll(req), rec["id"])


def _own_jobs_only(req, state):
    """The caller's user id when they may see only their own jobs (a
    delegated caller who is not a Printer Administrator, or whose token
    has no .All job scope), else None. An unknown user gets "" (no
    job)."""
    if req.claims.get("kind") != "delegated":
        return None
    uid = state.user_by_upn.get((req.claims.get("upn") or "").lower())
    user = state.users.get(uid) if uid else None
    if records.reads_others_jobs(user, req.claims):
        return None
    return uid or ""


def _creator(rec):
    return (rec.get("createdBy") or {}).get("id")


def _readable_job(req, state, index, owner):
    """The job of a .../jobs/{jid} path, 403 if the caller may not read
    it (see the module comment)."""
    rec = state.job_in(index, owner, req.params["jid"])
    uid = _own_jobs_only(req, state)
    if uid is not None and _creator(rec) != uid:
        raise GraphError(403, "accessDenied",
                         "Print job '%s' belongs to another user; reading "
                         "other users' jobs needs the Printer Administrator "
                         "role and a .All job scope." % rec["id"])
    return rec


def _listed_job(req, obj):
    """A job as a list gives it: with the app's listsOmitCreatedBy, its
    createdBy empty, as the reference's list example shows it (a job's
    own GET still says who made it)."""
    app = getattr(req, "app", None)
    if app is not None and app.lists_omit_created_by and "createdBy" in obj:
        obj["createdBy"] = {}
    return obj


def list_jobs(req, state):
    with state.lock:
        index, owner, frag = _owner(req, state)
        keys = index.get(owner, [])
        uid = _own_jobs_only(req, state)
        if uid is not None:
            keys = [j for j in keys if _creator(state.jobs.by_id[j]) == uid]
        return list_of(
            req, state, "printJob", frag + "/jobs", keys, state.jobs.seq_of,
            state.jobs.get,
            lambda r, q: _listed_job(req, render.job(state, req, r, q.select,
                                                     q.expand, frag)),
            filters=JOB_FILTERS)


def get_job(req, state):
    q = odata.Query(req.raw_query, ENTITY_OPTIONS, "printJob")
    with state.lock:
        index, owner, frag = _owner(req, state)
        rec = _readable_job(req, state, index, owner)
        obj = render.job(state, req, rec, q.select, q.expand, frag)
    return entity(req, frag + "/jobs", obj, q.select)


def list_documents(req, state):
    with state.lock:
        index, owner, frag = _owner(req, state)
        rec = _readable_job(req, state, index, owner)
        docs = {d["id"]: d for d in rec["documents"]}
        order = list(docs)
        return list_of(
            req, state, "printDocument",
            "%s/jobs('%s')/documents" % (frag, rec["id"]), order,
            order.index, docs.get,
            lambda r, q: odata.select_fields(dict(r), q.select))


def get_document(req, state):
    q = odata.Query(req.raw_query, {"$select"}, "printDocument")
    with state.lock:
        index, owner, frag = _owner(req, state)
        rec = _readable_job(req, state, index, owner)
        for doc in rec["documents"]:
            if doc["id"] == req.params["did"]:
                obj = odata.select_fields(dict(doc), q.select)
                break
        else:
            raise not_found("printDocument", req.params["did"])
    return entity(req, "%s/jobs('%s')/documents" % (frag, rec["id"]), obj,
                  q.select)


# --- shares ------------------------------------------------------------------

def list_shares(req, state):
    with state.lock:
        c = state.shares
        return list_of(
            req, state, "printerShare", "print/" + _share_coll(req), c.ids,
            c.seq_of, c.get,
            lambda r, q: render.share(state, req, r, q.select, q.expand))


def get_share(req, state):
    q = odata.Query(req.raw_query, ENTITY_OPTIONS, "printerShare")
    with state.lock:
        rec = state.share(req.params["id"])
        obj = render.share(state, req, rec, q.select, q.expand, single=True)
    return entity(req, "print/" + _share_coll(req), obj, q.select)


def share_printer(req, state):
    q = odata.Query(req.raw_query, ENTITY_OPTIONS, "printer")
    with state.lock:
        rec = state.share(req.params["id"])
        if not render.may_read_printers(req):
            raise GraphError(403, "UnknownError",
                             '"The token does not have one or more '
                             'required security scopes."')
        printer = state.printer(rec["_printerId"])
        obj = render.printer(state, req, printer, q.select, q.expand,
                             single=True)
    return entity(req, "print/%s('%s')/printer" % (_share_coll(req),
                                                   rec["id"]), obj, q.select)


def _allowed(kind):
    key, type_name = {"users": ("_allowedUsers", "user"),
                      "groups": ("_allowedGroups", "group")}[kind]
    renderer = render.user if kind == "users" else render.group

    def handler(req, state):
        with state.lock:
            rec = state.share(req.params["id"])
            c = state.c[kind]
            ids = sorted((i for i in rec[key] if i in c.by_id),
                         key=c.seq_of)
            return list_of(
                req, state, type_name,
                "Collection(microsoft.graph.%s)" % type_name, ids,
                c.seq_of, c.get, lambda r, q: renderer(r, q.select),
                options=COLLECTION_OPTIONS - {"$expand"})
    return handler


# --- connectors, services, settings, operations ------------------------------

def _simple_list(kind, type_name, renderer):
    def handler(req, state):
        with state.lock:
            c = state.c[kind]
            return list_of(req, state, type_name, "print/" + kind, c.ids,
                           c.seq_of, c.get,
                           lambda r, q: renderer(state, req, r, q))
    return handler


def _simple_get(kind, type_name, renderer, odata_type=None):
    def handler(req, state):
        q = odata.Query(req.raw_query, ENTITY_OPTIONS, type_name)
        with state.lock:
            rec = state.one(kind, req.params["id"], type_name)
            obj = renderer(state, req, rec, q)
            otype = rec.get(odata_type) if odata_type else None
        obj.pop("@odata.type", None)
        return entity(req, "print/" + kind, obj, q.select, otype)
    return handler


def _conn(state, req, rec, q):
    return render.connector(rec, q.select)


def _svc(state, req, rec, q):
    return render.service(rec, q.select)


def _op(state, req, rec, q):
    return render.operation(state, req, rec, q.select)


def list_endpoints(req, state):
    with state.lock:
        svc = state.one("services", req.params["id"], "printService")
        eps = {e["id"]: e for e in svc["endpoints"]}
        order = list(eps)
        return list_of(
            req, state, "printServiceEndpoint",
            "print/services('%s')/endpoints" % svc["id"], order,
            order.index, eps.get,
            lambda r, q: odata.select_fields(dict(r), q.select))


def get_endpoint(req, state):
    q = odata.Query(req.raw_query, {"$select"}, "printServiceEndpoint")
    with state.lock:
        svc = state.one("services", req.params["id"], "printService")
        for ep in svc["endpoints"]:
            if ep["id"] == req.params["eid"]:
                obj = odata.select_fields(dict(ep), q.select)
                break
        else:
            raise not_found("printServiceEndpoint", req.params["eid"])
    return entity(req, "print/services('%s')/endpoints" % svc["id"], obj,
                  q.select)


def get_settings(req, state):
    odata.Query(req.raw_query, frozenset(), "printService")
    with state.lock:
        settings = dict(state.settings)
    body = {"@odata.context": odata.context(req, "print/settings")}
    body.update(settings)
    return Reply(200, body)


def get_print(req, state):
    odata.Query(req.raw_query, frozenset(), "printService")
    with state.lock:
        settings = dict(state.settings)
    return Reply(200, {"@odata.context": odata.context(req, "print"),
                       "settings": settings})


# --- the table ---------------------------------------------------------------

PLANNED = []     # (method, template, app_ok): none left


def register(router):
    add = router.add
    add("GET", "/print", get_print, app_ok=False)
    add("GET", "/print/printers", list_printers)
    add("GET", "/print/printers/{id}", get_printer)
    add("GET", "/print/printers/{id}/shares", printer_shares, app_ok=False)
    add("GET", "/print/printers/{id}/shares/{sid}", printer_share,
        app_ok=False)
    add("GET", "/print/printers/{id}/connectors", printer_connectors,
        app_ok=False)
    for owner in ("printers", "shares", "printerShares"):
        base = "/print/%s/{id}/jobs" % owner
        add("GET", base, list_jobs)
        add("GET", base + "/{jid}", get_job)
        add("GET", base + "/{jid}/documents", list_documents)
        add("GET", base + "/{jid}/documents/{did}", get_document)
    for coll in ("shares", "printerShares"):
        base = "/print/" + coll
        add("GET", base, list_shares, app_ok=False)
        add("GET", base + "/{id}", get_share, app_ok=False)
        add("GET", base + "/{id}/printer", share_printer)
        add("GET", base + "/{id}/allowedUsers", _allowed("users"),
            app_ok=False)
        add("GET", base + "/{id}/allowedGroups", _allowed("groups"),
            app_ok=False)
    add("GET", "/print/connectors",
        _simple_list("connectors", "printConnector", _conn), app_ok=False)
    add("GET", "/print/connectors/{id}",
        _simple_get("connectors", "printConnector", _conn), app_ok=False)
    add("GET", "/print/services",
        _simple_list("services", "printService", _svc), app_ok=False)
    add("GET", "/print/services/{id}",
        _simple_get("services", "printService", _svc), app_ok=False)
    add("GET", "/print/services/{id}/endpoints", list_endpoints,
        app_ok=False)
    add("GET", "/print/services/{id}/endpoints/{eid}", get_endpoint,
        app_ok=False)
    add("GET", "/print/settings", get_settings, app_ok=False)
    add("GET", "/print/operations",
        _simple_list("operations", "printOperation", _op), app_ok=False)
    add("GET", "/print/operations/{id}",
        _simple_get("operations", "printOperation", _op, "@odata.type"),
        app_ok=False)
    for method, template, app_ok in PLANNED:
        router.plan(method, template, app_ok=app_ok)
