"""Builders for the emulator's internal records. A record is the Graph
object plus private keys starting with '_' (links and ordering) that the
renderer strips. A job's private keys besides the links: `_completeAt`
(started, due to complete), `_endedDateTime` (when it became final, for
the reports), `_pageCount` (emulator-only document page count, see
reports.py), `_sha256` (the uploaded bytes). Pull printing's task
definitions, task triggers and tasks are built here too (their private
keys: links to printer, definition, trigger, job and `_appId`, the
application that owns them). The job state table lives
here too, so the write side (create, start, cancel) can reuse it, and so
do the printer-create operation and the printer it registers when it
succeeds (the operation's private keys: `_completeAt`, `_request`, the
checked create body, and `_printerId`)."""

import base64
import hashlib

from . import profiles, util

# state -> (description, details, isAcquiredByPrinter, isFetchable)
JOB_STATES = {
    "pending": ("The print job is waiting to be processed.",
                [], False, True),
    "processing": ("The print job is currently being processed by the "
                   "printer.", [], True, False),
    "paused": ("The job is not a candidate for processing yet.",
               ["uploadPending"], False, False),
    "stopped": ("The print job has been stopped.", [], False, False),
    "completed": ("The print job has completed successfully and no further "
                  "processing will take place.", [], True, False),
    "canceled": ("The print job was canceled and no further processing will "
                 "take place.", [], False, False),
    "aborted": ("The print job was aborted and no further processing will "
                "take place.", ["completedWithErrors"], False, False),
    "unknown": ("", [], False, False),
}

FINAL_STATES = ("completed", "canceled", "aborted")

# What POST .../start answers (reference §3.2), and the job's status until
# the emulated printer has printed it.
STARTED_STATUS = {"state": "processing",
                  "description": "The print job is currently being "
                                 "processed.",
                  "isAcquiredByPrinter": False,
                  "details": ["interpreting"]}

# A started job held by a task trigger until its task is done (hold_job).
HELD_STATUS = {"state": "paused",
               "description": "The job is not a candidate for processing "
                              "yet.",
               "isAcquiredByPrinter": False,
               "details": ["releaseWait"]}

CONFIGURATION_KEYS = (
    "collate", "colorMode", "copies", "dpi", "duplexMode", "feedOrientation",
    "finishings", "fitPdfToPage", "inputBin", "margin", "mediaSize",
    "mediaType", "multipageLayout", "orientation", "outputBin", "pageRanges",
    "pagesPerSheet", "quality", "scaling",
)


def normalize_location(location):
    """Accepts the docs' `subUnit` spelling and stores the schema's."""
    if isinstance(location, dict) and "subUnit" in location:
        location = dict(location)
        value = location.pop("subUnit")
        location.setdefault("subunit", value)
    return location


def printer(pid, display_name, profile=profiles.mono_laser, **fields):
    """A printer record from a device profile; fields (Graph names)
    override anything."""
    manufacturer, model_name, caps, defaults = profile()
    stamp = util.now_str()
    rec = {
        "id": pid,
        "displayName": display_name,
        "manufacturer": manufacturer,
        "model": model_name,
        "isShared": False,
        "isAcceptingJobs": True,
        "hasPhysicalDevice": True,
        "registeredDateTime": stamp,
        "lastSeenDateTime": stamp,
        "status": {"state": "idle", "details": [], "description": ""},
        "location": {},
        "defaults": defaults,
        "capabilities": caps,
        "_connectorIds": [],
    }
    rec.update(fields)
    rec["location"] = normalize_location(rec["location"])
    return rec


def share(sid, display_name, printer_id, **fields):
    rec = {
        "id": sid,
        "displayName": display_name,
        "createdDateTime": util.now_str(),
        "allowAllUsers": False,
        "isAcceptingJobs": True,
        "_printerId": printer_id,
        "_allowedUsers": [],
        "_allowedGroups": [],
    }
    rec.update(fields)
    return rec


ADMIN_UPNS = ("admin@contoso.com",)


def is_printer_admin(user):
    """The Printer Administrator role: a user record whose `_printerAdmin`
    is true; without the key, admin@contoso.com (in every tenant). Tests
    change it with PATCH /_emulator/users/{id} {"printerAdmin": bool}."""
    if "_printerAdmin" in user:
        return bool(user["_printerAdmin"])
    return user["userPrincipalName"].lower() in ADMIN_UPNS


# Delegated scopes that, with the Printer Administrator role, read other
# users' jobs (the jobs list pages); their documents' bytes need one of
# the last two (reference §3.0, row 22).
OTHERS_JOBS_SCOPES = ("PrintJob.ReadBasic.All", "PrintJob.ReadWriteBasic.All",
                      "PrintJob.Read.All", "PrintJob.ReadWrite.All")
OTHERS_DOCUMENTS_SCOPES = OTHERS_JOBS_SCOPES[2:]


def reads_others_jobs(user, claims, scopes=OTHERS_JOBS_SCOPES):
    """Whether a delegated caller (user record, or None when unknown) may
    read jobs other users made: a Printer Administrator whose token
    carries one of scopes."""
    granted = set((claims.get("scp") or "").split())
    return user is not None and is_printer_admin(user) and \
        bool(granted.intersection(scopes))


def user_identity(user):
    """The userIdentity of a user record (createdBy of a job)."""
    return {"id": user["id"], "displayName": user["displayName"],
            "ipAddress": None, "userPrincipalName": user["userPrincipalName"]}


def job_status(state, details=None, description=None):
    desc, default_details, acquired, fetchable = JOB_STATES[state]
    status = {
        "state": state,
        "description": desc if description is None else description,
        "details": list(default_details if details is None else details),
        "isAcquiredByPrinter": acquired,
    }
    return status, fetchable


def start_job(rec, complete_at):
    """The job as `start` leaves it: processing, fetchable, and due to be
    completed by State.tick at complete_at (epoch seconds)."""
    rec["status"] = dict(STARTED_STATUS, details=["interpreting"])
    rec["isFetchable"] = True
    rec["_completeAt"] = complete_at


def complete_job(rec, when):
    """The emulated printer has fetched and printed the job at `when`
    (a Graph timestamp)."""
    rec["status"] = {"state": "completed",
                     "description": JOB_STATES["completed"][0],
                     "details": ["completedSuccessfully"],
                     "isAcquiredByPrinter": True}
    rec["isFetchable"] = False
    rec["acknowledgedDateTime"] = when
    for doc in rec["documents"]:
        doc["downloadedDateTime"] = when
    rec.pop("_completeAt", None)
    rec["_endedDateTime"] = when


def hold_job(rec, details=("releaseWait",)):
    """A started job a task trigger holds (pulltasks.py): paused with
    releaseWait until its task completes, aborts, or the job is
    redirected. "paused" is the Universal Print name of IPP's
    pending-held ("not a candidate for processing yet", the very text of
    its description) and releaseWait the printJobStateDetail the service
    has for a job waiting to be released; the portal calls this state
    pendingHeld. No longer fetchable, not due to complete."""
    rec["status"] = dict(HELD_STATUS, details=list(details))
    rec["_held"] = True     # its details need not say (heldDetails)
    rec["isFetchable"] = False
    rec.pop("_completeAt", None)


def redirected_job(rec, to_url):
    """The source job of a redirect (pulltasks.py): it leaves its
    printer's active jobs as completed (the emulator's choice: the
    reference does not say; the job's processing, its task, ended well),
    never acquired by a printer, pointing at the new job."""
    rec["status"] = {"state": "completed",
                     "description": "The print job was redirected to "
                                    "another printer.",
                     "details": [], "isAcquiredByPrinter": False}
    rec["isFetchable"] = False
    rec["redirectedTo"] = to_url
    rec.pop("_completeAt", None)
    rec["_endedDateTime"] = util.now_str()


def is_held(rec):
    """Held for release: every way out of it leaves "paused"."""
    return rec["status"]["state"] == "paused" and bool(rec.get("_held"))


def end_job(rec, state):
    """Cancels or aborts a job (state "canceled" or "aborted")."""
    rec["status"], rec["isFetchable"] = job_status(state)
    rec.pop("_completeAt", None)
    rec["_endedDateTime"] = util.now_str()


def ended_time(rec):
    """When a job reached its final state (the archived job's
    completionDateTime), or None while it is not final. Records loaded
    from an older state file fall back to acknowledgedDateTime."""
    if rec["status"]["state"] not in FINAL_STATES:
        return None
    return rec.get("_endedDateTime") or rec.get("acknowledgedDateTime")


def configuration(**values):
    """A printJobConfiguration with every member present (null if unset)."""
    return {key: values.get(key) for key in CONFIGURATION_KEYS}


def document(did, name, content_type, size, uploaded=None, downloaded=None):
    return {"id": did, "displayName": name, "contentType": content_type,
            "size": size, "uploadedDateTime": uploaded,
            "downloadedDateTime": downloaded}


def job_key(rec):
    """A job's key in the emulator: its id, or for a job whose id another
    printer's job has too (the service numbers jobs per printer; see
    control.py's POST /_emulator/jobs and "nextJobId") "<id>@<printer
    id>"."""
    return rec.get("_key") or rec["id"]


def task_job_key(task):
    """The key of a task's job (tasks saved before keys: its id)."""
    return task.get("_jobKey") or task["_jobId"]


def job(jid, printer_id, share_id, created_by, state, doc, created,
        config=None, details=None, description=None, acknowledged=None):
    """A job record; jid is the decimal id (also its ordering key)."""
    status, fetchable = job_status(state, details, description)
    if status["isAcquiredByPrinter"] and acknowledged is None:
        acknowledged = created
    return {
        "id": str(jid),
        "createdDateTime": created,
        "createdBy": created_by,
        "status": status,
        "configuration": config or configuration(),
        "isFetchable": fetchable,
        "redirectedFrom": None,
        "redirectedTo": None,
        "acknowledgedDateTime": acknowledged,
        "errorCode": None,
        "documents": [doc],
        "_seq": int(jid),
        "_printerId": printer_id,
        "_shareId": share_id,
        # When the job became final (records.ended_time); a job made final
        # here ended when it was acknowledged, or created if it never was.
        "_endedDateTime": (acknowledged or created)
        if state in FINAL_STATES else None,
    }


def user(uid, upn, display_name, given, surname, job_title=None,
         office=None):
    return {
        "id": uid, "displayName": display_name, "givenName": given,
        "surname": surname, "userPrincipalName": upn, "mail": upn,
        "jobTitle": job_title, "officeLocation": office,
        "businessPhones": [], "mobilePhone": None,
        "preferredLanguage": "en-US",
    }


def group(gid, display_name, description, created, members=()):
    nick = "".join(ch for ch in display_name if ch.isalnum())
    return {
        "id": gid, "displayName": display_name, "description": description,
        "mail": None, "mailEnabled": False, "mailNickname": nick,
        "securityEnabled": True, "groupTypes": [],
        "createdDateTime": created, "_members": list(members),
    }


# --- printer-create operations (reference §2.21, §3.1) -----------------------

OPERATION_TYPE = "#microsoft.graph.printerCreateOperation"
OPERATION_STATES = {
    "running": "The operation is in progress.",
    "succeeded": "The operation has completed successfully.",
}


def printer_create_operation(opid, created, complete_at, request):
    """A running printerCreateOperation. request: the checked create body
    plus "appid" (the registering app); complete_at: epoch seconds at
    which State.tick registers the printer (complete_printer_create)."""
    return {
        "@odata.type": OPERATION_TYPE,
        "id": opid,
        "createdDateTime": created,
        "status": {"state": "running",
                   "description": OPERATION_STATES["running"]},
        "certificate": None,
        "_printerId": None,
        "_completeAt": complete_at,
        "_request": dict(request),
    }


def fake_certificate(pid, csr):
    """A PEM-armoured stand-in for the certificate the service signs; not a
    real X.509 structure, but stable for a printer id and CSR."""
    seed = hashlib.sha256(("%s\n%s" % (pid, csr)).encode("utf-8")).digest()
    der = b"0\x82\x03\x00up-emulator printer certificate " + \
        pid.encode("ascii") + b" " + seed * 8
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" \
        % "\n".join(lines)


def complete_printer_create(op, when):
    """Marks the operation succeeded at `when` (a Graph timestamp) and
    returns the printer it registers, as the GET operation example shows
    it: not shared, status unknown, isAcceptingJobs null, an empty
    location; capabilities and defaults of profiles.generic_pdf."""
    request = op.pop("_request")
    op.pop("_completeAt", None)
    pid = util.new_id()
    rec = printer(
        pid, request["displayName"], profiles.generic_pdf,
        manufacturer=request["manufacturer"], model=request["model"],
        hasPhysicalDevice=request["hasPhysicalDevice"],
        isAcceptingJobs=None, registeredDateTime=when,
        lastSeenDateTime=None,
        status={"state": "unknown", "details": [], "description": ""},
        location={"latitude": None, "longitude": None},
        _connectorIds=[request["connectorId"]]
        if request.get("connectorId") else [],
        _registeredByApp=request.get("appid"),
        _physicalDeviceId=request.get("physicalDeviceId"))
    op["status"] = {"state": "succeeded",
                    "description": OPERATION_STATES["succeeded"]}
    op["certificate"] = fake_certificate(
        pid, request["certificateSigningRequest"]["content"])
    op["_printerId"] = pid
    return rec


# --- pull printing: task definitions, triggers, tasks (pulltasks.py) ---------

# printTaskStatus.description as the service words it for each state (the
# reference's examples for processing and completed; the other two are the
# emulator's, in the same style). A description sent in a PATCH is ignored.
TASK_DESCRIPTIONS = {
    "pending": "The task is pending.",
    "processing": "The task is being processed.",
    "completed": "Task execution is completed.",
    "aborted": "Task execution is aborted.",
}
TASK_FINAL_STATES = ("completed", "aborted")


def task_definition(did, display_name, app_id, app_name=None):
    """A printTaskDefinition of application app_id (createdBy.appId)."""
    return {"id": did, "displayName": display_name,
            "createdBy": {"appId": app_id, "displayName": app_name}}


def task_trigger(tid, printer_id, definition_id, app_id):
    """A jobStarted printTaskTrigger on a printer, bound to a definition;
    app_id: the application of the delegated token that created it."""
    return {"id": tid, "event": "jobStarted", "_printerId": printer_id,
            "_definitionId": definition_id, "_appId": app_id,
            "_createdDateTime": util.now_str()}


def task(tid, trigger, job_rec):
    """The printTask a trigger makes when job_rec starts: processing.
    `_appId` is the definition's application, the only one that may act on
    the job while the task is processing."""
    return {"id": tid,
            "status": {"state": "processing",
                       "description": TASK_DESCRIPTIONS["processing"]},
            "_definitionId": trigger["_definitionId"],
            "_triggerId": trigger["id"], "_appId": trigger["_appId"],
            "_printerId": job_rec["_printerId"], "_jobId": job_rec["id"],
            "_jobKey": job_key(job_rec),
            "_createdDateTime": util.now_str(), "_endedDateTime": None}


def end_task(rec, state):
    """Sets a task's final state ("completed" or "aborted")."""
    rec["status"] = {"state": state,
                     "description": TASK_DESCRIPTIONS[state]}
    rec["_endedDateTime"] = util.now_str()
