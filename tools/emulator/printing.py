"""The /print write side for printing (reference §3.2, §3.3, §8.1): create
a job, open its document's upload session, start, cancel, abort. The upload
URL itself is served by uploads.py. Handlers take (req, state) like the
read side and reach the App (options, uploads) through req.app.

Who may do what (delegated tokens unless said otherwise; app-only tokens
get 403 accessDenied from the router, as printing needs a user):

  POST /print/shares/{id}/jobs           a user the share allows:
       allowAllUsers, or in allowedUsers, or a member of an allowedGroups
       group; Printer Administrators (see is_admin) print to every share.
  POST /print/printers/{id}/jobs          Printer Administrators only (the
       docs' "admin testing before sharing"); others 403 accessDenied.
  createUploadSession, start (share or printer path)   the job's creator
       or a Printer Administrator; others 403 accessDenied.
       createUploadSession on the printer path also takes an app-only
       token with PrintJob.ReadWrite.All while a trigger of that
       application holds the job with a task in processing (require_task):
       the upload replaces the job's document (reference §8.3 step 7);
       its last PUT gets 403 accessDenied, nothing replaced, when the
       task is no longer in processing by then.
  cancel (printer or share path)          the creator or an administrator.
  abort (printer path)                    app-only tokens only, with a
       PrintJob.ReadWriteBasic.All, .ReadWrite.All or .Manage.All role,
       and (reference §3.0) a task in processing on the job made by a
       trigger of the calling application (require_task; 403
       accessDenied otherwise).

Refusals (Graph error envelope, code in parentheses):
  create   400 (invalidRequest) a property printJob does not have, a
           configuration member of the wrong type, not a member of its
           enum, or not in the printer's capabilities (copies outside
           copiesPerJob, ...); 403 (accessDenied) above; 403
           (quotaLimitReached) the user created --job-quota jobs in the
           last 12 days.
  createUploadSession   404 no such job or document; 400 (invalidRequest)
           missing/ill-typed properties, size 0, a contentType the printer
           does not take (application/oxps is taken by a printer that takes
           application/pdf when settings.documentConversionEnabled), a job
           not in paused/uploadPending; 413 (invalidRequest) size over
           1 GiB. A new session for the same document replaces the old one.
  start    400 (invalidRequest) document not uploaded yet, or the job is not
           paused with its upload done (starting twice is a 400: the job is
           already processing, held for release, or finished).
  cancel   400 (invalidRequest) job already completed/canceled/aborted.
  abort    400 (invalidRequest) the same; 403 for delegated tokens.

State machine: create -> paused [uploadPending]; upload complete -> paused
[]; start -> processing [interpreting], isFetchable, not acquired; after
--job-seconds -> completed [completedSuccessfully], acquired, with
acknowledgedDateTime (State.tick, evaluated lazily). cancel -> canceled;
abort -> aborted [completedWithErrors]. On a printer with a task trigger,
start still answers processing [interpreting], but the job is then held,
paused [releaseWait], with a task in processing (State.start_job,
pulltasks.py) until the task is done. Cancel or abort of a job ends its
processing tasks (aborted)."""

import datetime
import time

from . import graph_print, records, render, schema, util
from .state import job_key
from .uploads import MAX_DOCUMENT, upload_url
from .wire import GraphError, Reply, not_found

QUOTA_DAYS = 12             # "about 10,000 jobs per user in 12 days"
JOB_PROPERTIES = set(schema.PROPERTIES["printJob"]) | {"displayName"}


def _bad(message):
    return GraphError(400, "invalidRequest", message)


def _denied(message):
    return GraphError(403, "accessDenied", message)


# --- who is calling ----------------------------------------------------------

def caller(req, state):
    """The signed-in user's record (403 if the token's user is unknown)."""
    upn = req.claims.get("upn") or ""
    uid = state.user_by_upn.get(upn.lower())
    rec = state.users.get(uid) if uid else None
    if rec is None:
        raise _denied("The signed-in user '%s' is not in this tenant."
                      % upn)
    return rec


def is_admin(user):
    """Printer Administrator (records.is_printer_admin)."""
    return records.is_printer_admin(user)


def may_print(state, share, user):
    if share["allowAllUsers"] or user["id"] in share["_allowedUsers"]:
        return True
    for gid in share["_allowedGroups"]:
        group = state.groups.get(gid)
        if group and user["id"] in group.get("_members", []):
            return True
    return False


def _target(req, state):
    """(printer, share or None, index, owner id, context fragment) for a
    /print/{printers|shares|printerShares}/{id}/... path."""
    index, owner, frag = graph_print._owner(req, state)
    if index is state.jobs_by_printer:
        return state.printer(owner), None, index, owner, frag
    share = state.share(owner)
    return state.printer(share["_printerId"]), share, index, owner, frag


def _job(req, state):
    """(job, printer, share or None, user) for a .../jobs/{jid}/... path,
    checked: the caller created the job or is an administrator."""
    printer, share, index, owner, _ = _target(req, state)
    rec = state.job_in(index, owner, req.params["jid"])
    user = caller(req, state)
    if rec["createdBy"].get("id") != user["id"] and not is_admin(user):
        raise _denied("Print job '%s' belongs to another user; only its "
                      "creator or a Printer Administrator may change it."
                      % rec["id"])
    return rec, printer, share, user


# --- the job configuration ---------------------------------------------------

def _type_error(key, want):
    return _bad("configuration.%s must be %s." % (key, want))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_enum(key, value, caps):
    type_name, members, cap = schema.CONFIG_ENUMS[key]
    if not isinstance(value, str):
        raise _type_error(key, "a %s string" % type_name)
    if value not in members:
        raise _bad("Cannot convert the literal '%s' to the expected type "
                   "'microsoft.graph.%s' (configuration.%s)."
                   % (value, type_name, key))
    allowed = caps.get(cap) or []
    if value not in allowed:
        raise _bad("configuration.%s '%s' is not supported by the printer "
                   "(capabilities.%s: %s)." % (key, value, cap,
                                               ", ".join(map(str, allowed))))


def _check_in(key, value, caps, cap, kind):
    if kind is int and not _is_int(value):
        raise _type_error(key, "an integer")
    if kind is str and not isinstance(value, str):
        raise _type_error(key, "a string")
    allowed = caps.get(cap) or []
    if value not in allowed:
        raise _bad("configuration.%s %r is not supported by the printer "
                   "(capabilities.%s: %s)." % (key, value, cap,
                                               ", ".join(map(str, allowed))))


def _check_flag(key, value, supported, what):
    if not isinstance(value, bool):
        raise _type_error(key, "true, false or null")
    if value and not supported:
        raise _bad("configuration.%s: the printer does not support %s."
                   % (key, what))


def _check_member(key, value, caps):
    if key in schema.CONFIG_ENUMS and key != "finishings":
        _check_enum(key, value, caps)
    elif key in schema.CONFIG_STRINGS:
        _check_in(key, value, caps, schema.CONFIG_STRINGS[key], str)
    elif key in schema.CONFIG_INT_LISTS:
        _check_in(key, value, caps, schema.CONFIG_INT_LISTS[key], int)
    elif key == "finishings":
        if not isinstance(value, list):
            raise _type_error(key, "an array of printFinishing strings")
        for item in value:
            _check_enum(key, item, caps)
    elif key == "copies":
        rng = caps.get("copiesPerJob") or {"start": 1, "end": 1}
        if not _is_int(value):
            raise _type_error(key, "an integer")
        if not rng["start"] <= value <= rng["end"]:
            raise _bad("configuration.copies %d is outside the printer's "
                       "range %d-%d (capabilities.copiesPerJob)."
                       % (value, rng["start"], rng["end"]))
    elif key == "collate":
        _check_flag(key, value, caps.get("collation"), "collation")
    elif key == "fitPdfToPage":
        _check_flag(key, value, caps.get("supportsFitPdfToPage"),
                    "fitting PDFs to the page")
    elif key == "margin":
        _check_margin(value, caps)
    elif key == "pageRanges":
        _check_page_ranges(value, caps)


def _check_margin(value, caps):
    if not isinstance(value, dict):
        raise _type_error("margin", "a printMargin object")
    for side, number in value.items():
        if side not in schema.MARGIN_SIDES:
            raise _bad("The property '%s' does not exist on type "
                       "'microsoft.graph.printMargin'." % side)
        if number is None:
            continue
        cap = schema.MARGIN_SIDES[side]
        _check_in("margin." + side, number, caps, cap, int)


def _check_page_ranges(value, caps):
    if not isinstance(value, list):
        raise _type_error("pageRanges", "an array of integerRange objects")
    if value and not caps.get("isPageRangeSupported"):
        raise _bad("configuration.pageRanges: the printer does not support "
                   "page ranges.")
    for item in value:
        if not isinstance(item, dict) or set(item) - {"start", "end"} or \
                not _is_int(item.get("start")) or \
                not _is_int(item.get("end")):
            raise _type_error("pageRanges",
                              "an array of {\"start\":n,\"end\":m} objects")
        if not 1 <= item["start"] <= item["end"]:
            raise _bad("configuration.pageRanges: %d-%d is not a range of "
                       "pages (1 <= start <= end)." % (item["start"],
                                                       item["end"]))


def configuration(body, printer):
    """The printJobConfiguration of a create body, checked against the
    printer's capabilities; every member present (null when not given)."""
    for key in body:
        if key.startswith("@") or key in JOB_PROPERTIES:
            continue
        raise _bad("The property '%s' does not exist on type "
                   "'microsoft.graph.printJob'." % key)
    config = body.get("configuration")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise _bad("configuration must be a printJobConfiguration object.")
    caps = printer.get("capabilities") or {}
    for key, value in config.items():
        if key.startswith("@"):
            continue
        if key not in records.CONFIGURATION_KEYS:
            raise _bad("The property '%s' does not exist on type "
                       "'microsoft.graph.printJobConfiguration'." % key)
        if value is not None:
            _check_member(key, value, caps)
    return records.configuration(**{k: v for k, v in config.items()
                                    if not k.startswith("@")})


# --- create ------------------------------------------------------------------

def _check_quota(req, state, user):
    quota = req.app.job_quota
    jids = state.jobs_by_user.get(user["id"], [])
    if len(jids) < quota:       # fewer jobs in all than the recent limit
        return
    cutoff = util.format_time(util.now() -
                              datetime.timedelta(days=QUOTA_DAYS))
    recent = 0
    for jid in jids:
        if state.jobs.by_id[jid]["createdDateTime"] >= cutoff:
            recent += 1
    if recent >= quota:
        raise GraphError(403, "quotaLimitReached",
                         "User '%s' has reached the limit of %d print jobs "
                         "in %d days." % (user["userPrincipalName"], quota,
                                          QUOTA_DAYS))


def _created(req, rec):
    out = render.public(rec)
    docs = out.pop("documents")
    if not req.include_unknown_enums:
        out["configuration"] = render._evolve_finishings(out["configuration"])
    out.pop("acknowledgedDateTime", None)
    out.pop("errorCode", None)
    out["documents"] = [{"id": d["id"], "displayName": d["displayName"],
                         "contentType": d["contentType"], "size": d["size"]}
                        for d in docs]
    return out


def create_job(req, state):
    body = req.json()
    with state.lock:
        printer, share, _, _, _ = _target(req, state)
        user = caller(req, state)
        admin = is_admin(user)
        if share is None and not admin:
            raise _denied("Only a Printer Administrator may print to a "
                          "printer directly; print through one of its "
                          "shares.")
        if share is not None and not admin and \
                not may_print(state, share, user):
            raise _denied("User '%s' is not allowed to print to the printer "
                          "share '%s'." % (user["userPrincipalName"],
                                           share["displayName"]))
        config = configuration(body, printer)
        _check_quota(req, state, user)
        jid = state.allocate_job_id()
        doc = records.document(util.new_id(), "", "", 0)
        rec = records.job(jid, printer["id"],
                          share["id"] if share else None,
                          records.user_identity(user), "paused", doc,
                          util.now_str(), config)
        state.name_job(rec)
        state.add_job(rec)
        reply = graph_print.entity(req, "print/printJobs", _created(req, rec))
    reply.status = 201
    return reply


# --- createUploadSession -----------------------------------------------------

def _properties(body):
    props = body.get("properties")
    if not isinstance(props, dict):
        raise _bad("The body must be {\"properties\": {\"documentName\", "
                   "\"contentType\", \"size\"}}.")
    for key in props:
        if key not in ("documentName", "contentType", "size") and \
                not key.startswith("@"):
            raise _bad("The property '%s' does not exist on type "
                       "'microsoft.graph.printDocumentUploadProperties'."
                       % key)
    name, ctype, size = (props.get(k) for k in ("documentName",
                                                  "contentType", "size"))
    if not isinstance(name, str) or not name:
        raise _bad("properties.documentName is required (a non-empty "
                   "string).")
    if not isinstance(ctype, str) or not ctype:
        raise _bad("properties.contentType is required (a MIME type the "
                   "printer takes).")
    if not _is_int(size):
        raise _bad("properties.size is required (the document's size in "
                   "bytes).")
    if size <= 0:
        raise _bad("properties.size must be positive: an empty document "
                   "cannot be printed.")
    if size > MAX_DOCUMENT:
        raise GraphError(413, "invalidRequest",
                         "The document is %d bytes; a print job may be at "
                         "most 1 GB (%d bytes)." % (size, MAX_DOCUMENT))
    return name, ctype, size


def _check_content_type(state, printer, ctype):
    """The content type as the printer lists it, or 400."""
    taken = (printer.get("capabilities") or {}).get("contentTypes") or []
    for item in taken:
        if item.lower() == ctype.lower():
            return item
    lower = [t.lower() for t in taken]
    if ctype.lower() == "application/oxps" and "application/pdf" in lower \
            and state.settings.get("documentConversionEnabled"):
        return "application/oxps"       # the service converts it to PDF
    note = ""
    if ctype.lower() == "application/oxps" and "application/pdf" in lower:
        note = " (OXPS would be converted to PDF, but the tenant's " \
               "documentConversionEnabled is false)"
    raise _bad("The printer does not accept content type '%s'%s; it takes: "
               "%s." % (ctype, note, ", ".join(taken) or "nothing"))


REPLACE_ROLES = ("PrintJob.ReadWrite.All",)     # reference §3.0, row 19


def _app_job(req, state):
    """(job, printer) for an app-only createUploadSession on the printer
    path: the payload of a job its own trigger holds (reference §3.0,
    §8.3 step 7), checked."""
    require_role(req, REPLACE_ROLES)
    printer, _, index, owner, _ = _target(req, state)
    rec = state.job_in(index, owner, req.params["jid"])
    require_task(req, state, rec, "replace the document of")
    return rec, printer


def create_upload_session(req, state):
    body = req.json()
    app = req.app
    replace = req.claims.get("appid") if req.claims.get("kind") == "app" \
        else None
    with state.lock:
        if replace:
            rec, printer = _app_job(req, state)
        else:
            rec, printer, _, _ = _job(req, state)
        did = req.params["did"]
        if not any(d["id"] == did for d in rec["documents"]):
            raise not_found("printDocument", did)
        status = rec["status"]
        if replace:
            pass        # held, with the caller's task in processing
        elif status["state"] != "paused" or \
                "uploadPending" not in status["details"]:
            raise _bad("Print job '%s' is not waiting for its document "
                       "(state %s, details [%s]); a document can only be "
                       "uploaded to a new job." % (
                           rec["id"], status["state"],
                           ", ".join(status["details"])))
        name, ctype, size = _properties(body)
        ctype = _check_content_type(state, printer, ctype)
        sess = app.uploads.create(state, job_key(rec), did, name, ctype,
                                  size, app.upload_seconds, replace)
        if app.document_set_at_session and not replace:
            doc = next(d for d in rec["documents"] if d["id"] == did)
            doc.update({"displayName": name, "contentType": ctype,
                        "size": size})
    return Reply(200, {
        "@odata.context": "%s/$metadata#microsoft.graph.uploadSession"
                          % req.graph_base,
        "uploadUrl": upload_url(req.transfer_base, sess),
        "expirationDateTime": sess.expiration,
        "nextExpectedRanges": ["0-%d" % (size - 1)],
    })


# --- start, cancel, abort ----------------------------------------------------

def start_job(req, state):
    app = req.app
    with state.lock:
        rec, _, _, _ = _job(req, state)
        status = rec["status"]
        if status["state"] == "paused" and \
                "uploadPending" in status["details"]:
            raise _bad("Print job '%s' cannot start: its document has not "
                       "been uploaded yet." % rec["id"])
        uploaded = all(d.get("uploadedDateTime") for d in rec["documents"])
        if records.is_held(rec):
            raise _bad("Print job '%s' cannot start: it was started and is "
                       "held until it is released." % rec["id"])
        if status["state"] != "paused" or not uploaded:
            raise _bad("Print job '%s' cannot start: it is already %s."
                       % (rec["id"], status["state"]))
        state.start_job(rec, time.time() + app.job_seconds,
                        app.held_details)
        return Reply(200, dict(records.STARTED_STATUS))


def _end(req, state, new_state):
    with state.lock:
        if new_state == "canceled":
            rec, _, _, _ = _job(req, state)
        else:
            _, _, index, owner, _ = _target(req, state)
            rec = state.job_in(index, owner, req.params["jid"])
        if new_state == "aborted":
            _may_abort(req, state, rec)
        current = rec["status"]["state"]
        if current in records.FINAL_STATES:
            raise _bad("Print job '%s' is already %s." % (rec["id"],
                                                          current))
        records.end_job(rec, new_state)
        state.end_tasks(job_key(rec), "aborted")
        req.app.uploads.drop_job(state, job_key(rec))
    return Reply(204)


ABORT_ROLES = ("PrintJob.ReadWriteBasic.All", "PrintJob.ReadWrite.All",
               "PrintJob.Manage.All")


def require_role(req, roles):
    """403 (the service's missing-scope reply) unless the app-only token
    holds one of roles."""
    granted = req.claims.get("roles") or []
    if not any(role in granted for role in roles):
        raise GraphError(
            403, "UnknownError",
            '"The token does not have one or more required security '
            'scopes."')


def require_task(req, state, rec, what):
    """The processing task on job rec that a trigger of the calling
    application made, or 403 accessDenied (reference §3.0: app-only
    update, abort and redirect need one)."""
    appid = req.claims.get("appid")
    task = state.processing_task(job_key(rec), appid)
    if task is not None:
        return task
    other = state.processing_task(job_key(rec))
    why = "its task belongs to another application" if other else \
        "it has no task in processing"
    raise _denied("Application '%s' may not %s print job '%s': %s. Only "
                  "the application whose task trigger made a processing "
                  "task on a job may %s it." % (appid, what, rec["id"], why,
                                                what))


def _may_abort(req, state, rec):
    """Abort needs a processing task of the caller's trigger on the job
    (reference §3.0, §3.2)."""
    require_task(req, state, rec, "abort")


def cancel_job(req, state):
    return _end(req, state, "canceled")


def abort_job(req, state):
    if req.claims.get("kind") != "app":
        raise _denied("Aborting a print job is for applications (app-only "
                      "tokens); users cancel their jobs.")
    require_role(req, ABORT_ROLES)
    body = req.json()
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _bad("reason must be a string.")
    return _end(req, state, "aborted")


def register(router):
    """Adds the routes (app.graph_router calls it before graph_print's
    planned ones)."""
    add = router.add
    for owner in ("printers", "shares", "printerShares"):
        base = "/print/%s/{id}/jobs" % owner
        add("POST", base, create_job, app_ok=False)
        # An application replaces the payload of a job it holds, on the
        # printer path only (reference §3.3).
        add("POST", base + "/{jid}/documents/{did}/createUploadSession",
            create_upload_session, app_ok=owner == "printers")
        add("POST", base + "/{jid}/start", start_job, app_ok=False)
        add("POST", base + "/{jid}/cancel", cancel_job, app_ok=False)
    add("POST", "/print/printers/{id}/jobs/{jid}/abort", abort_job)
