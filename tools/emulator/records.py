"""Builders for the emulator's internal records. A record is the Graph
object plus private keys starting with '_' (links and ordering) that the
renderer strips. The job state table lives here too, so the write side
(create, start, cancel) can reuse it."""

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


def end_job(rec, state):
    """Cancels or aborts a job (state "canceled" or "aborted")."""
    rec["status"], rec["isFetchable"] = job_status(state)
    rec.pop("_completeAt", None)


def configuration(**values):
    """A printJobConfiguration with every member present (null if unset)."""
    return {key: values.get(key) for key in CONFIGURATION_KEYS}


def document(did, name, content_type, size, uploaded=None, downloaded=None):
    return {"id": did, "displayName": name, "contentType": content_type,
            "size": size, "uploadedDateTime": uploaded,
            "downloadedDateTime": downloaded}


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
