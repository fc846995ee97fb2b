"""Test-only routes under /_emulator/: no auth, never counted, never
faulted. They mint tokens, expose request counts and the whole state, let
tests change the tenant behind the client's back, and set faults.

  GET    /_emulator                  {"base","tenant","faults","pageSize",
                                      "jobQuota","jobSeconds",
                                      "uploadSessionSeconds",
                                      "operationSeconds",
                                      "downloadUrlSeconds",
                                      "listsOmitDetails",
                                      "listsOmitDetailsOf",
                                      "listsIgnoreExpand",
                                      "documentSetAtSession",
                                      "triggersListEmpty","heldDetails",
                                      "listsOmitCreatedBy",
                                      "downloadsIgnoreRange",
                                      "downloadsRangeAlign",
                                      "clockSkewSeconds","spoolDir",
                                      "transferHost" (--transfer-host;
                                      null: the other loopback name)}
  POST   /_emulator                  any of {"pageSize" (>= 1), "jobQuota"
                                      (>= 0), "jobSeconds" (>= 0),
                                      "uploadSessionSeconds" (> 0),
                                      "operationSeconds" (>= 0: how long a
                                      printer-create operation runs),
                                      "downloadUrlSeconds" (> 0: lifetime of
                                      a $value download URL),
                                      "listsOmitDetails" (bool: printer and
                                      share lists leave out defaults and
                                      capabilities whatever $select says),
                                      "listsOmitDetailsOf" (the same for
                                      these ids only),
                                      "listsIgnoreExpand" (navigation
                                      names lists leave out whatever
                                      $expand says: "connectors" on
                                      printers, "definition" on task
                                      triggers), "documentSetAtSession"
                                      (bool: createUploadSession sets the
                                      document's name, type and size
                                      before its bytes are in),
                                      "triggersListEmpty" (bool: a
                                      printer's taskTriggers list is
                                      empty though it has one, as seen in
                                      reference §11 #4), "heldDetails"
                                      (the details a job held for
                                      release shows, default
                                      ["releaseWait"]: undocumented,
                                      reference §13), "listsOmitCreatedBy"
                                      (bool: job lists give createdBy {},
                                      as reference §3.2's example),
                                      "downloadsIgnoreRange" (bool:
                                      download URLs send the whole
                                      document, 200, whatever Range
                                      says), "downloadsRangeAlign"
                                      (integer >= 0: a ranged download
                                      answers the whole blocks of that
                                      size it falls in; 0: as asked),
                                      "clockSkewSeconds" (integer:
                                      how far the service's clock, in
                                      its Date headers, is ahead)}
                                      -> as GET;
                                      400 for an unknown key or bad value
  POST   /_emulator/token            {"upn","expires_in","kind":"app",
                                      "client_id","scp","roles"} (all
                                      optional) -> {"access_token",
                                      "refresh_token" (delegated),
                                      "expires_in","token_type"}
  GET    /_emulator/auth             sign-in settings, counts, device codes,
                                      refresh grants per tenant segment
                                      ("refreshAt")
  POST   /_emulator/auth             {"deviceMode","deviceApproveAfter",
                                      "accessTokenSeconds",...} (auth.py)
  POST   /_emulator/auth/revoke      {"access":bool,"refresh":bool}: every
                                      token of that kind issued so far fails
  GET    /_emulator/requests[?urls=1]   {"total":N,"routes":{"GET /t":n}},
                                      with urls=1 also "urls": {"/v1.0/p?q":
                                      {"route":"GET /t","count":n}} (Graph
                                      GETs as sent) and "urlsUncounted"
  POST   /_emulator/requests/reset   zeroes the counts
  GET    /_emulator/state[?only=printers,shares]   the state, Graph shapes
                                      plus printerId/shareId/... links
  POST   /_emulator/reset            {"tenant":name} re-seeds (default:
                                      the current tenant); forgets upload
                                      sessions, uploaded documents and
                                      download URLs
  GET    /_emulator/faults           {"spec": ..., "history": [...]}
                                      (history: see faults.py)
  POST   /_emulator/faults           {"spec": "429:0.2:1,..."} replaces it
  POST   /_emulator/printers         printer fields (displayName required;
                                      "id", "connectorIds",
                                      "registeredByApp" (the client id whose
                                      app-only tokens may PATCH it, if it
                                      has no physical device) optional)
                                      -> 201; its defaults become its
                                      factory defaults
  GET    /_emulator/printers/{id}    the printer as in the state, plus
                                      "shareIds", "connectorIds",
                                      "factoryDefaults" (what
                                      restoreFactoryDefaults restores) and
                                      "registeredByApp" (or null)
  PATCH  /_emulator/printers/{id}    fields merged (dicts deep) -> 200
                                      (factory defaults unchanged);
                                      "nextJobId": the id the printer's
                                      next new job gets (the service
                                      numbers jobs per printer: it may be
                                      another printer's job's id, see
                                      POST /_emulator/jobs "id")
  DELETE /_emulator/printers/{id}    also deletes its shares and jobs
                                      (admin.unregister_printer, as DELETE
                                      /print/printers/{id})
  POST   /_emulator/shares           {"printerId", "displayName",
                                      "allowAllUsers", "allowedUsers": [UPN
                                      or id], "allowedGroups": [name or id]}
  PATCH  /_emulator/shares/{id}      same fields; printerId swaps printer
  DELETE /_emulator/shares/{id}      its jobs stay on the printer
  POST   /_emulator/jobs             {"printerId" and/or "shareId", "upn",
                                      "state", "documentName", "size",
                                      "contentType", "configuration",
                                      "details", "description",
                                      "createdDateTime", "pageCount",
                                      "id"} -> 201
                                      ("id": an id another printer's job
                                      has, as the service's per-printer
                                      numbers can repeat; the job's {jid}
                                      here is then "<id>@<printer id>",
                                      its "key"; such a job is listed,
                                      read, canceled and deleted, not
                                      uploaded to or held by pull tasks)
                                      ("pageCount": the emulator-only
                                      document page count the reports use,
                                      see reports.py)
  PATCH  /_emulator/jobs/{jid}       {"state", ...} recomputes the status
                                      (a final state stamps the job's
                                      completionDateTime: now);
                                      "pageCount" (null: from the size);
                                      other fields merged
  DELETE /_emulator/jobs/{jid}
  GET    /_emulator/jobs[?shareId=&printerId=&upn=&state=]
                                      {"value":[job summary]} in id order;
                                      a summary is {"id","printerId",
                                      "shareId","state","details",
                                      "isAcquiredByPrinter","isFetchable",
                                      "createdBy" (UPN),"createdDateTime",
                                      "documentId","documentName",
                                      "contentType","size","uploaded",
                                      "sha256" (null until uploaded),
                                      "configuration","pageCount" (null:
                                      from the size),"acknowledgedDateTime",
                                      "completionDateTime" (null until
                                      final),"key" (its {jid} here: the id
                                      but for a job with a repeated id)}
  GET    /_emulator/jobs/{jid}       one job summary
  GET    /_emulator/jobs/{jid}/document
                                      {"jobId","documentId","sha256","size",
                                      "contentType","documentName","path",
                                      "synthetic"}: the sha256 of what the
                                      document's $value download serves:
                                      the uploaded bytes ("path": the file,
                                      null if gone, e.g. after a restart) or,
                                      for a seeded job nobody uploaded to,
                                      the synthetic bytes (downloads.py;
                                      "synthetic": true, "path" null); 404
                                      if the job is missing or its document
                                      was never uploaded
  POST   /_emulator/users            {"userPrincipalName" (required),
                                      "displayName", "id", "givenName",
                                      "surname", "jobTitle",
                                      "printerAdmin": bool} -> 201 user
                                      (+ "printerAdmin"); 409 if the id or
                                      UPN exists
  PATCH  /_emulator/users/{id|upn}   Graph fields merged; "printerAdmin":
                                      true/false grants/revokes the Printer
                                      Administrator role (admin@contoso.com
                                      has it unless set false) -> 200
  DELETE /_emulator/users/{id|upn}   also drops it from share access lists
                                      and group memberships
  POST   /_emulator/groups           {"displayName" (required), "id",
                                      "description", "members": [UPN or
                                      id]} -> 201 group (+ "memberIds");
                                      names need not be unique (test an
                                      ambiguous group name with two)
  PATCH  /_emulator/groups/{id}      fields merged; "members" replaces
  DELETE /_emulator/groups/{id}      also drops it from share access lists
  GET    /_emulator/writes           {"value":[{"method","route" (template),
                                      "path","query","params","status",
                                      "time","upn","body" (JSON or null),
                                      "dropped"}]}: the successful Graph
                                      and upload-URL writes (POST, PUT,
                                      PATCH, DELETE with a 2xx whose work
                                      ran; "dropped": a drop fault cut the
                                      reply), oldest first, since the last
  POST   /_emulator/writes/reset     (which empties it; so does
                                      POST /_emulator/reset)
  GET    /_emulator/tasks[?definitionId=&jobId=&appId=&state=]
                                      pull printing at a glance (every
                                      application's, pulltasks.py):
                                      {"value":[{"id","state","description",
                                      "definitionId","definitionName",
                                      "appId","triggerId","printerId",
                                      "jobId","jobState","createdDateTime",
                                      "endedDateTime"}] (tasks, oldest
                                      first, filtered),"definitions":[{"id",
                                      "displayName","appId",
                                      "appDisplayName","triggerIds"}],
                                      "triggers":[{"id","event","printerId",
                                      "definitionId","appId"}]}
  GET    /_emulator/uploads          {"value":[{"id","jobId","documentId",
                                      "documentName","contentType","size",
                                      "receivedBytes","putsInFlight",
                                      "expirationDateTime",
                                      "nextExpectedRanges"}]}: the open
                                      (unexpired, uncompleted) sessions
"""

import os
from urllib.parse import parse_qs

from . import admin, auth, downloads, records, render, tenants, uploads, util
from .router import Router
from .state import job_key
from .wire import GraphError, Reply

CONTENT_TYPES = {".pdf": "application/pdf", ".oxps": "application/oxps",
                 ".xps": "application/oxps", ".txt": "text/plain",
                 ".png": "image/png", ".jpg": "image/jpeg",
                 ".pwg": "image/pwg-raster"}


def _body(req):
    return req.json()


def info(req, app):
    return Reply(200, {"base": req.base, "tenant": app.state.tenant,
                       "faults": app.faults.spec,
                       "pageSize": app.page_size, "jobQuota": app.job_quota,
                       "jobSeconds": app.job_seconds,
                       "uploadSessionSeconds": app.upload_seconds,
                       "operationSeconds": app.operation_seconds,
                       "downloadUrlSeconds": app.download_seconds,
                       "listsOmitDetails": app.lists_omit_details,
                       "listsOmitDetailsOf": app.lists_omit_details_of,
                       "listsIgnoreExpand": app.lists_ignore_expand,
                       "documentSetAtSession": app.document_set_at_session,
                       "triggersListEmpty": app.triggers_list_empty,
                       "heldDetails": app.held_details,
                       "listsOmitCreatedBy": app.lists_omit_created_by,
                       "downloadsIgnoreRange": app.downloads_ignore_range,
                       "downloadsRangeAlign": app.downloads_range_align,
                       "clockSkewSeconds": app.clock_skew,
                       "spoolDir": app.uploads.root,
                       "transferHost": app.transfer_host})


# JSON name -> (App attribute, integer only, minimum, minimum allowed);
# "bool" or "ids" (a list of strings) instead of the last three.
SETTINGS = {
    "listsOmitDetails": ("lists_omit_details", "bool", None, None),
    "listsOmitDetailsOf": ("lists_omit_details_of", "ids", None, None),
    "listsIgnoreExpand": ("lists_ignore_expand", "ids", None, None),
    "documentSetAtSession": ("document_set_at_session", "bool", None, None),
    "triggersListEmpty": ("triggers_list_empty", "bool", None, None),
    "heldDetails": ("held_details", "ids", None, None),
    "listsOmitCreatedBy": ("lists_omit_created_by", "bool", None, None),
    "downloadsIgnoreRange": ("downloads_ignore_range", "bool", None, None),
    "downloadsRangeAlign": ("downloads_range_align", True, 0, True),
    "clockSkewSeconds": ("clock_skew", True, -86400, True),
    "pageSize": ("page_size", True, 1, True),
    "jobQuota": ("job_quota", True, 0, True),
    "jobSeconds": ("job_seconds", False, 0, True),
    "uploadSessionSeconds": ("upload_seconds", False, 0, False),
    "operationSeconds": ("operation_seconds", False, 0, True),
    "downloadUrlSeconds": ("download_seconds", False, 0, False),
}


def settings_set(req, app):
    """POST /_emulator: changes run-time settings (all checked first)."""
    body = _body(req)
    for key, value in body.items():
        if key not in SETTINGS:
            raise GraphError(400, "BadRequest", "unknown setting '%s'; "
                             "known: %s" % (key, ", ".join(SETTINGS)))
        _, integer, low, inclusive = SETTINGS[key]
        if integer == "bool":
            if not isinstance(value, bool):
                raise GraphError(400, "BadRequest",
                                 "%s must be true or false" % key)
            continue
        if integer == "ids":
            if not isinstance(value, list) or \
                    not all(isinstance(v, str) for v in value):
                raise GraphError(400, "BadRequest",
                                 "%s must be a list of ids" % key)
            continue
        kinds = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or \
                value < low or (value == low and not inclusive):
            raise GraphError(400, "BadRequest", "%s must be %s %s %d" % (
                key, "an integer" if integer else "a number",
                ">=" if inclusive else ">", low))
    for key, value in body.items():
        setattr(app, SETTINGS[key][0], value)
    return info(req, app)


def token(req, app):
    body = _body(req)
    kind = body.get("kind", "delegated")
    if kind not in ("delegated", "app"):
        raise GraphError(400, "BadRequest", "kind must be delegated or app")
    expires_in = int(body.get("expires_in", 3600))
    upn = body.get("upn", "admin@contoso.com")
    out = {"token_type": "Bearer", "expires_in": expires_in}
    if kind == "app":
        out["access_token"] = auth.mint_access(
            app.state, kind="app", expires_in=expires_in,
            appid=body.get("client_id", "upfs-demo-app"),
            roles=body.get("roles"))
    else:
        out["access_token"] = auth.mint_access(
            app.state, upn, expires_in=expires_in,
            appid=body.get("client_id", "upfs-emulator"), scp=body.get("scp"))
        out["refresh_token"] = auth.mint_refresh(app.state, upn,
                                                 body.get("client_id"),
                                                 body.get("scp"))
    return Reply(200, out)


def requests(req, app):
    urls = parse_qs(req.raw_query).get("urls", ["0"])[-1] == "1"
    return Reply(200, app.counter.snapshot(urls=urls))


def requests_reset(req, app):
    app.counter.reset()
    return Reply(200, app.counter.snapshot())


def state(req, app):
    only = parse_qs(req.raw_query).get("only")
    with app.state.lock:
        view = render.state_view(app.state)
    if only:
        keep = set(",".join(only).split(",")) | {"tenant"}
        view = {k: v for k, v in view.items() if k in keep}
    return Reply(200, view)


def reset(req, app):
    """Re-seeds the tenant (body {"tenant": name} picks another)."""
    name = _body(req).get("tenant", app.state.tenant)
    if name not in tenants.BUILDERS:
        raise GraphError(400, "BadRequest", "unknown tenant '%s'" % name)
    app.state = tenants.build(name)
    app.uploads.clear()
    app.downloads.clear()
    app.writes.reset()
    return Reply(200, {"tenant": name})


def faults_get(req, app):
    with app.faults.lock:
        history = list(app.faults.history)
    return Reply(200, {"spec": app.faults.spec, "history": history})


def faults_set(req, app):
    spec = _body(req).get("spec", "")
    try:
        app.faults.set(spec)
    except ValueError as exc:
        raise GraphError(400, "BadRequest", str(exc))
    return Reply(200, {"spec": app.faults.spec})


# --- printers ----------------------------------------------------------------

def printer_create(req, app):
    body = _body(req)
    name = body.get("displayName")
    if not isinstance(name, str) or not name:
        raise GraphError(400, "BadRequest", "displayName is required")
    fields = {k: v for k, v in body.items()
              if k not in ("id", "displayName", "isShared", "connectorIds",
                           "registeredByApp")
              and not k.startswith("_")}
    st = app.state
    with st.lock:
        pid = body.get("id") or util.new_id()
        if pid in st.printers.by_id:
            raise GraphError(409, "conflict", "printer '%s' exists" % pid)
        rec = records.printer(pid, name, **fields)
        base = records.printer(pid, name)
        for key in ("status", "defaults", "capabilities"):
            if isinstance(fields.get(key), dict):
                rec[key] = util.deep_merge(base[key], fields[key])
        rec["_connectorIds"] = list(body.get("connectorIds", []))
        if body.get("registeredByApp"):
            rec["_registeredByApp"] = body["registeredByApp"]
        st.add("printers", rec)
        return Reply(201, render.public(rec))


def printer_get(req, app):
    st = app.state
    with st.lock:
        rec = st.printer(req.params["id"])
        out = render.public(rec)
        out.update(shareIds=list(st.shares_by_printer.get(rec["id"], [])),
                   connectorIds=list(rec.get("_connectorIds", [])),
                   factoryDefaults=rec.get("_factoryDefaults"),
                   registeredByApp=rec.get("_registeredByApp"))
    return Reply(200, out)


def printer_patch(req, app):
    with app.state.lock:
        rec = app.state.patch_printer(req.params["id"], _body(req))
        return Reply(200, render.public(rec))


def printer_delete(req, app):
    admin.unregister_printer(app, app.state, req.params["id"])
    return Reply(204)


# --- shares ------------------------------------------------------------------

def _share_links(st, body):
    """Resolves allowedUsers (ids or UPNs) and allowedGroups (ids or names)."""
    links = {}
    if "allowedUsers" in body:
        links["_allowedUsers"] = [st.user(u)["id"]
                                  for u in body["allowedUsers"]]
    if "allowedGroups" in body:
        ids = []
        for g in body["allowedGroups"]:
            rec = st.groups.get(g) or st.group_by_name(g)
            if rec is None:
                st.group(g)     # raises the 404
            ids.append(rec["id"])
        links["_allowedGroups"] = ids
    return links


def _share_out(st, rec):
    out = render.share(st, render._RawReq, rec,
                       select=["displayName", "manufacturer", "model",
                               "createdDateTime", "allowAllUsers",
                               "isAcceptingJobs", "status", "location",
                               "defaults", "capabilities"])
    out["printerId"] = rec["_printerId"]
    return out


def share_create(req, app):
    body = _body(req)
    st = app.state
    with st.lock:
        printer = st.printer(body.get("printerId", ""))
        name = body.get("displayName") or printer["displayName"]
        sid = body.get("id") or util.new_id()
        if sid in st.shares.by_id:
            raise GraphError(409, "conflict", "share '%s' exists" % sid)
        fields = {k: v for k, v in body.items() if k in (
            "allowAllUsers", "isAcceptingJobs", "createdDateTime")}
        fields.update(_share_links(st, body))
        rec = records.share(sid, name, printer["id"], **fields)
        st.add("shares", rec)
        return Reply(201, _share_out(st, rec))


def share_patch(req, app):
    body = _body(req)
    st = app.state
    with st.lock:
        links = _share_links(st, body)
        fields = {k: v for k, v in body.items()
                  if k not in ("allowedUsers", "allowedGroups")}
        rec = st.patch_share(req.params["id"], fields)
        rec.update(links)
        return Reply(200, _share_out(st, rec))


def share_delete(req, app):
    with app.state.lock:
        app.state.delete_share(req.params["id"])
    return Reply(204)


# --- jobs --------------------------------------------------------------------

def _job_out(rec):
    out = render.public(rec)
    out["printerId"] = rec["_printerId"]
    out["shareId"] = rec["_shareId"]
    if rec.get("_key"):
        out["key"] = rec["_key"]
    return out


def job_create(req, app):
    body = _body(req)
    pages = body.get("pageCount")
    pages = None if pages is None else _page_count(pages)
    st = app.state
    with st.lock:
        sid = body.get("shareId")
        if sid:
            pid = body.get("printerId") or st.share(sid)["_printerId"]
            st.share(sid)
        else:
            pid = body.get("printerId", "")
        st.printer(pid)
        state_name = body.get("state", "completed")
        if state_name not in records.JOB_STATES:
            raise GraphError(400, "BadRequest",
                             "state must be one of " +
                             ", ".join(records.JOB_STATES))
        user = st.user(body.get("upn", "admin@contoso.com"))
        name = body.get("documentName", "document.pdf")
        ctype = body.get("contentType") or CONTENT_TYPES.get(
            os.path.splitext(name)[1].lower(), "application/octet-stream")
        created = body.get("createdDateTime") or util.now_str()
        key = _repeated_id(st, body.get("id"), pid)
        jid = st.allocate_job_id()
        status, _ = records.job_status(state_name)
        doc = records.document(
            util.new_id(), name, ctype, int(body.get("size", 1024)),
            None if state_name == "paused" else created,
            created if status["isAcquiredByPrinter"] else None)
        config = records.configuration(**body.get("configuration", {}))
        rec = records.job(jid, pid, sid, records.user_identity(user),
                          state_name, doc, created, config,
                          body.get("details"), body.get("description"))
        if pages is not None:
            rec["_pageCount"] = pages
        if key:
            rec["id"], rec["_key"] = body["id"], key
        st.add_job(rec)
        return Reply(201, _job_out(rec))


def _repeated_id(st, jid, pid):
    """For POST /_emulator/jobs with an "id": the key of a job that takes
    the id another printer's job has (the service numbers jobs per
    printer, the emulator tenant-wide), or None without one."""
    if jid is None:
        return None
    if not isinstance(jid, str) or not jid.isdigit():
        raise GraphError(400, "BadRequest", "id must be a decimal string")
    other = st.jobs.get(jid)
    key = "%s@%s" % (jid, pid)
    if other is None or other["_printerId"] == pid or st.jobs.get(key):
        raise GraphError(400, "BadRequest", "id must be one another "
                         "printer's job has and this printer's has not")
    return key


def _page_count(value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise GraphError(400, "BadRequest", "pageCount must be an integer "
                         ">= 0")
    return value


def job_patch(req, app):
    """Body: any job fields to merge; "state" (with optional "details",
    "description") recomputes the status as the service would show it."""
    body = dict(_body(req))
    st = app.state
    with st.lock:
        rec = st.jobs.get(req.params["jid"])
        if rec is None:
            raise GraphError(404, "itemNotFound", "no job '%s'"
                             % req.params["jid"])
        if "state" in body:
            name = body.pop("state")
            if name not in records.JOB_STATES:
                raise GraphError(400, "BadRequest", "unknown state")
            status, fetchable = records.job_status(
                name, body.pop("details", None), body.pop("description", None))
            rec["status"], rec["isFetchable"] = status, fetchable
            rec.pop("_completeAt", None)    # no longer finishes by itself
            rec["_endedDateTime"] = util.now_str() \
                if name in records.FINAL_STATES else None
        if "pageCount" in body:
            count = body.pop("pageCount")
            rec["_pageCount"] = None if count is None else _page_count(count)
        body = {k: v for k, v in body.items()
                if k != "id" and not k.startswith("_")}
        rec.update(util.deep_merge(rec, body))
        return Reply(200, _job_out(rec))


def job_delete(req, app):
    st = app.state
    with st.lock:
        if req.params["jid"] not in st.jobs.by_id:
            raise GraphError(404, "itemNotFound", "no job '%s'"
                             % req.params["jid"])
        rec = st.delete_job(req.params["jid"])
        app.uploads.drop_job(st, job_key(rec))
    for doc in rec["documents"]:
        app.uploads.forget_document(doc["id"])
    return Reply(204)


def _job_summary(rec):
    doc = rec["documents"][0] if rec["documents"] else {}
    status = rec["status"]
    return {
        "id": rec["id"], "printerId": rec["_printerId"],
        "shareId": rec.get("_shareId"), "state": status["state"],
        "details": list(status["details"]),
        "isAcquiredByPrinter": status["isAcquiredByPrinter"],
        "isFetchable": rec["isFetchable"],
        "createdBy": (rec.get("createdBy") or {}).get("userPrincipalName"),
        "createdDateTime": rec["createdDateTime"],
        "documentId": doc.get("id"), "documentName": doc.get("displayName"),
        "contentType": doc.get("contentType"), "size": doc.get("size"),
        "uploaded": bool(doc.get("uploadedDateTime")),
        "sha256": rec.get("_sha256"),
        "configuration": dict(rec.get("configuration") or {}),
        "pageCount": rec.get("_pageCount"),
        "acknowledgedDateTime": rec.get("acknowledgedDateTime"),
        "completionDateTime": records.ended_time(rec),
        "key": job_key(rec),
    }


def jobs_list(req, app):
    """Every job (or those of one share/printer/user/state), summarised."""
    q = {k: v[-1] for k, v in parse_qs(req.raw_query).items()}
    st = app.state
    with st.lock:
        if "shareId" in q:
            ids = list(st.jobs_by_share.get(q["shareId"], []))
        elif "printerId" in q:
            ids = list(st.jobs_by_printer.get(q["printerId"], []))
        else:
            ids = list(st.jobs.ids)
        out = []
        for rec in (st.jobs.by_id[j] for j in ids):
            summary = _job_summary(rec)
            if "printerId" in q and summary["printerId"] != q["printerId"]:
                continue
            if "upn" in q and (summary["createdBy"] or "").lower() != \
                    q["upn"].lower():
                continue
            if "state" in q and summary["state"] != q["state"]:
                continue
            out.append(summary)
    for summary in out:     # hashed out of State.lock
        summary["sha256"] = uploads.hexdigest(summary["sha256"])
    out.sort(key=lambda j: int(j["id"]))
    return Reply(200, {"value": out})


def _job_rec(st, jid):
    rec = st.jobs.get(jid)
    if rec is None:
        raise GraphError(404, "itemNotFound", "no job '%s'" % jid)
    return rec


def job_get(req, app):
    with app.state.lock:
        summary = _job_summary(_job_rec(app.state, req.params["jid"]))
    summary["sha256"] = uploads.hexdigest(summary["sha256"])
    return Reply(200, summary)


def job_document(req, app):
    """The hash and properties of what the document's $value serves."""
    st = app.state
    with st.lock:
        rec = _job_rec(st, req.params["jid"])
        doc = rec["documents"][0] if rec["documents"] else None
    found = downloads.fingerprint(app, st, rec, doc) if doc else None
    if found is None:
        raise GraphError(404, "itemNotFound", "job '%s' has no uploaded "
                         "document" % req.params["jid"])
    return Reply(200, {"jobId": rec["id"], "documentId": doc["id"],
                       "sha256": found["sha256"], "size": doc["size"],
                       "contentType": doc["contentType"],
                       "documentName": doc["displayName"],
                       "path": found["path"],
                       "synthetic": found["synthetic"]})


# --- users and groups --------------------------------------------------------

USER_FIELDS = ("displayName", "givenName", "surname", "jobTitle",
               "officeLocation", "mail", "preferredLanguage",
               "businessPhones", "mobilePhone", "userPrincipalName")


def _user_out(rec):
    return dict(render.public(rec), printerAdmin=records.is_printer_admin(
        rec))


def _admin_flag(body):
    flag = body.get("printerAdmin")
    if flag is not None and not isinstance(flag, bool):
        raise GraphError(400, "BadRequest", "printerAdmin must be a boolean")
    return flag


def user_create(req, app):
    body = _body(req)
    upn = body.get("userPrincipalName")
    if not isinstance(upn, str) or "@" not in upn:
        raise GraphError(400, "BadRequest", "userPrincipalName is required "
                         "(name@domain)")
    flag = _admin_flag(body)
    st = app.state
    with st.lock:
        uid = body.get("id") or util.new_id()
        if uid in st.users.by_id or upn.lower() in st.user_by_upn:
            raise GraphError(409, "conflict", "user '%s' exists" % upn)
        local = upn.split("@")[0]
        rec = records.user(uid, upn, body.get("displayName") or local,
                           body.get("givenName"), body.get("surname"),
                           body.get("jobTitle"))
        rec.update({k: v for k, v in body.items() if k in USER_FIELDS})
        if flag is not None:
            rec["_printerAdmin"] = flag
        st.add("users", rec)
        return Reply(201, _user_out(rec))


def user_patch(req, app):
    body = _body(req)
    flag = _admin_flag(body)
    st = app.state
    with st.lock:
        fields = {k: v for k, v in body.items() if k in USER_FIELDS}
        rec = st.patch_user(req.params["id"], fields)
        if flag is not None:
            rec["_printerAdmin"] = flag
        return Reply(200, _user_out(rec))


def user_delete(req, app):
    with app.state.lock:
        app.state.delete_user(req.params["id"])
    return Reply(204)


def _member_ids(st, members):
    if not isinstance(members, list):
        raise GraphError(400, "BadRequest", "members must be a list of "
                         "UPNs or user ids")
    return list(dict.fromkeys(st.user(m)["id"] for m in members))


def _group_out(rec):
    return dict(render.public(rec), memberIds=list(rec.get("_members", [])))


def group_create(req, app):
    body = _body(req)
    name = body.get("displayName")
    if not isinstance(name, str) or not name:
        raise GraphError(400, "BadRequest", "displayName is required")
    st = app.state
    with st.lock:
        gid = body.get("id") or util.new_id()
        if gid in st.groups.by_id:
            raise GraphError(409, "conflict", "group '%s' exists" % gid)
        rec = records.group(gid, name, body.get("description"),
                            body.get("createdDateTime") or util.now_str(),
                            _member_ids(st, body.get("members", [])))
        for key in ("mail", "mailEnabled", "mailNickname",
                    "securityEnabled", "groupTypes"):
            if key in body:
                rec[key] = body[key]
        st.add("groups", rec)
        return Reply(201, _group_out(rec))


def group_patch(req, app):
    body = _body(req)
    st = app.state
    with st.lock:
        rec = st.group(req.params["id"])
        if "members" in body:
            rec["_members"] = _member_ids(st, body["members"])
        rec.update({k: v for k, v in body.items()
                    if k not in ("id", "members") and not k.startswith("_")})
        return Reply(200, _group_out(rec))


def group_delete(req, app):
    with app.state.lock:
        app.state.delete_group(req.params["id"])
    return Reply(204)


# --- the write log -----------------------------------------------------------

def writes(req, app):
    return Reply(200, app.writes.snapshot())


def writes_reset(req, app):
    app.writes.reset()
    return Reply(200, app.writes.snapshot())


def _task_summary(st, rec):
    definition = st.definitions.get(rec["_definitionId"]) or {}
    job = st.jobs.get(rec["_jobId"])
    return {"id": rec["id"], "state": rec["status"]["state"],
            "description": rec["status"]["description"],
            "definitionId": rec["_definitionId"],
            "definitionName": definition.get("displayName"),
            "appId": rec["_appId"], "triggerId": rec["_triggerId"],
            "printerId": rec["_printerId"], "jobId": rec["_jobId"],
            "jobState": job["status"]["state"] if job else None,
            "createdDateTime": rec.get("_createdDateTime"),
            "endedDateTime": rec.get("_endedDateTime")}


def tasks_list(req, app):
    """Every task, definition and trigger, of every application."""
    q = {k: v[-1] for k, v in parse_qs(req.raw_query).items()}
    st = app.state
    with st.lock:
        tasks = [_task_summary(st, t) for t in st.tasks.records()]
        definitions = [{"id": d["id"], "displayName": d["displayName"],
                        "appId": d["createdBy"]["appId"],
                        "appDisplayName": d["createdBy"]["displayName"],
                        "triggerIds": [t["id"] for t in
                                       st.definition_triggers(d["id"])]}
                       for d in st.definitions.records()]
        triggers = [{"id": t["id"], "event": t["event"],
                     "printerId": t["_printerId"],
                     "definitionId": t["_definitionId"],
                     "appId": t["_appId"]} for t in st.triggers.records()]
    for key in ("definitionId", "jobId", "appId", "state"):
        if key in q:
            tasks = [t for t in tasks if t[key] == q[key]]
    return Reply(200, {"value": tasks, "definitions": definitions,
                       "triggers": triggers})


def uploads_list(req, app):
    return Reply(200, {"value": app.uploads.listing()})


def router():
    r = Router()
    r.add("GET", "/_emulator", info)
    r.add("POST", "/_emulator", settings_set)
    r.add("POST", "/_emulator/token", token)
    r.add("GET", "/_emulator/auth", auth.control_get)
    r.add("POST", "/_emulator/auth", auth.control_set)
    r.add("POST", "/_emulator/auth/revoke", auth.control_revoke)
    r.add("GET", "/_emulator/requests", requests)
    r.add("POST", "/_emulator/requests/reset", requests_reset)
    r.add("GET", "/_emulator/state", state)
    r.add("POST", "/_emulator/reset", reset)
    r.add("GET", "/_emulator/faults", faults_get)
    r.add("POST", "/_emulator/faults", faults_set)
    r.add("POST", "/_emulator/printers", printer_create)
    r.add("GET", "/_emulator/printers/{id}", printer_get)
    r.add("PATCH", "/_emulator/printers/{id}", printer_patch)
    r.add("DELETE", "/_emulator/printers/{id}", printer_delete)
    r.add("POST", "/_emulator/shares", share_create)
    r.add("PATCH", "/_emulator/shares/{id}", share_patch)
    r.add("DELETE", "/_emulator/shares/{id}", share_delete)
    r.add("POST", "/_emulator/jobs", job_create)
    r.add("PATCH", "/_emulator/jobs/{jid}", job_patch)
    r.add("DELETE", "/_emulator/jobs/{jid}", job_delete)
    r.add("GET", "/_emulator/jobs", jobs_list)
    r.add("GET", "/_emulator/jobs/{jid}", job_get)
    r.add("GET", "/_emulator/jobs/{jid}/document", job_document)
    r.add("GET", "/_emulator/uploads", uploads_list)
    r.add("GET", "/_emulator/tasks", tasks_list)
    r.add("POST", "/_emulator/users", user_create)
    r.add("PATCH", "/_emulator/users/{id}", user_patch)
    r.add("DELETE", "/_emulator/users/{id}", user_delete)
    r.add("POST", "/_emulator/groups", group_create)
    r.add("PATCH", "/_emulator/groups/{id}", group_patch)
    r.add("DELETE", "/_emulator/groups/{id}", group_delete)
    r.add("GET", "/_emulator/writes", writes)
    r.add("POST", "/_emulator/writes/reset", writes_reset)
    return r
