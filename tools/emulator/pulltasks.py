"""Pull printing (secure release; reference §2.17-§2.19, §3.0 #14, #17,
#18, #43-#54, §3.2, §3.6, §8.3, §11): task definitions, tasks, task
triggers, job update and redirect. Abort is printing.py's, with the same
task rule (printing.require_task).

Two identities. Task definitions and their tasks are an application's:
app-only tokens (client credentials) with PrintTaskDefinition.ReadWrite.All;
a definition belongs to the `appid` of the token that created it
(createdBy.appId) and is invisible to every other application (404, as if
absent). Triggers are made by a Printer Administrator with a delegated
token; the definition they bind must belong to the application the
delegated token was issued to (its `appid` claim: one app registration for
both, §11 #5). Job update and redirect are app-only and need a task in
processing on the job made by a trigger of the calling application
(printing.require_task).

The flow. When a job on a printer with a trigger starts (POST .../start;
State.start_job), the trigger fires: a task in processing is created under
the trigger's definition and the job is held: status paused [releaseWait]
"The job is not a candidate for processing yet." (records.hold_job: the
service's name for IPP pending-held; releaseWait is its detail for a job
waiting to be released), not fetchable, and it does not complete after
--job-seconds. The start reply is still the documented processing
[interpreting]. Then the application either
  * PATCHes the task completed: the job goes on (processing
    [interpreting]) and completes --job-seconds later, as if just started;
  * PATCHes it aborted: the job is aborted;
  * redirects the job: a new job on the destination printer (below), the
    task completed automatically;
  * aborts the job (printing.py): the job is aborted, the task too.
A user's cancel of a held job, an abort, and the end of a job in any other
way, abort its processing tasks. Only jobs started through Graph fire a
trigger: jobs made by /_emulator/jobs never do.

Routes (reply; refusals in the table below):

  GET    /print/taskDefinitions                 200 the caller's
         definitions (paged, $expand=tasks); $count, $format, $search,
         $select, $skip, $top are 400 (§3.6), so is $filter.
  POST   /print/taskDefinitions                 201 {"id","displayName",
         "createdBy":{"appId","displayName"}}; body displayName
         (required), createdBy.displayName (optional, else null); an id or
         createdBy.appId sent is ignored (server-set).
  GET    /print/taskDefinitions/{id}            200 ($select, $expand=tasks)
  PATCH  /print/taskDefinitions/{id}            200 the whole definition
         (the docs' reply; §11 #9 saw 204); displayName, createdBy.
         displayName only.
  DELETE /print/taskDefinitions/{id}            204; its tasks go with it,
         and a job still held by one of them is aborted (nobody can release
         it any more). 409 while a trigger binds it (the emulator's
         choice: the reference is silent; its cleanup deletes triggers
         first, and a definition in use is like a connector with printers,
         §3.5, which is a 409).
  GET    /print/taskDefinitions/{id}/tasks      200 current and finished
         tasks, oldest first (paged, $expand=definition,trigger; the same
         unsupported options as above).
  GET    /print/taskDefinitions/{id}/tasks/{tid}   200 {"id","parentUrl",
         "status":{"state","description"}} ($select, $expand).
  PATCH  /print/taskDefinitions/{id}/tasks/{tid}   body {"status":{"state":
         "completed"|"aborted","description":...}} -> 200 the task; the
         description is the service's ("Task execution is completed.", a
         description sent is ignored, §3.6).
  GET    /print/printers/{id}/taskTriggers      200 the printer's trigger
         (0 or 1; §11 #4 saw the real list come back empty: the emulator
         lists it, unless its triggersListEmpty setting is on),
         $expand=definition.
  GET    /print/printers/{id}/taskTriggers/{tid}   200 {"id","event"}.
  POST   /print/printers/{id}/taskTriggers      201 {"id","event":
         "jobStarted"}; body {"event":"jobStarted","definition@odata.bind":
         "{graph}/print/taskDefinitions/{D}"} (a relative URL or
         taskDefinitions('{D}') taken too).
  DELETE /print/printers/{id}/taskTriggers/{tid}   204; tasks it made stay,
         and their application may still finish them.
  PATCH  /print/printers/{id}/jobs/{jid}        200 the job; body
         {"configuration":{...}} only, members checked against the
         printer's capabilities, omitted members keep their values.
  POST   /print/printers/{id}/jobs/{jid}/redirect  200 the new job, with
         the @odata.context of the destination's jobs; body
         destinationPrinterId (required), configuration (optional: members
         checked against the destination's capabilities, replacing the
         source's). The new job: a new id on the destination printer (no
         share), the same creator, the same document bytes under a new
         document id, redirectedFrom the source's URL, started at once
         (processing, completes after --job-seconds; a trigger on the
         destination fires as for any start). The source job: redirectedTo
         the new job's URL, completed with the description "The print job
         was redirected to another printer." (the emulator's choice: it
         leaves the virtual printer's active jobs; records.redirected_job),
         its task completed.

Who may call, and refusals (status code: when):
  403 accessDenied  a delegated token on a definition, task, job PATCH or
                    redirect route ("needs an application token"); an
                    app-only token on a trigger route (the router); a
                    delegated caller who is not a Printer Administrator
                    creating or deleting a trigger; job PATCH or redirect
                    (or abort) without a processing task of the caller's
                    trigger on the job (none, finished, or another app's).
  403 UnknownError  an app-only token without the role (§5.2's missing
                    scope reply): PrintTaskDefinition.ReadWrite.All for
                    definitions and tasks, PrintJob.Manage.All for
                    redirect, PrintJob.ReadWriteBasic.All/.ReadWrite.All/
                    .Manage.All for job PATCH.
  404 itemNotFound  no such printer, job, trigger (on that printer),
                    definition (or another app's), task (under that
                    definition), or destination printer.
  400 invalidRequest  a property the type or action lacks, a read-only one,
                    a value of the wrong type, an empty displayName, a task
                    state other than completed/aborted, an event other than
                    jobStarted, a malformed definition@odata.bind, a
                    configuration member the printer does not support,
                    redirect to the job's own printer.
  400 "400"         (the print service's business-rule errors, §5.2/§11):
                    "Invalid Operation:No Task definition object found with
                    given parameters." (the definition does not exist or
                    belongs to another app than the delegated token's);
                    "Invalid Operation: There is a task trigger already
                    created for the printer {id}. Multiple task triggers
                    per printer is not supported." (the reference's status
                    for this; not 409); a task already completed or aborted.
  409 conflict      DELETE of a definition a trigger still binds.
"""

import re
import time

from . import auth, graph_print, odata, printing, records, render, util
from .state import job_key
from .wire import GraphError, Reply, not_found

LIST_OPTIONS = frozenset(("$expand", "$skiptoken"))
DEFINITION_ROLE = "PrintTaskDefinition.ReadWrite.All"
REDIRECT_ROLE = "PrintJob.Manage.All"
UPDATE_ROLES = ("PrintJob.ReadWriteBasic.All", "PrintJob.ReadWrite.All",
                "PrintJob.Manage.All")
BIND_RE = re.compile(r"(?:^|/)print/taskDefinitions(?:/([^/()']+)|"
                     r"\('([^/()']+)'\))/?$", re.I)
NO_DEFINITION = ("Invalid Operation:No Task definition object found with "
                 "given parameters.")


def _bad(message):
    return GraphError(400, "invalidRequest", message)


def _rule(message):
    """A business-rule refusal as the print service words them (§5.2)."""
    return GraphError(400, "400", message)


def _app_only(req, what, role=None):
    """403 unless req carries an app-only token (with role, if given)."""
    if req.claims.get("kind") != "app":
        raise GraphError(
            403, "accessDenied",
            "%s needs an application token (client credentials, app-only); "
            "it is not available to delegated (user) tokens." % what)
    if role:
        auth.require_permission(req, role)


def _check_keys(body, allowed, type_name, read_only=()):
    for key in body:
        if key.startswith("@odata.") or key in allowed:
            continue
        if key in read_only:
            raise _bad("The property '%s' is read-only." % key)
        raise _bad("The property '%s' does not exist on type "
                   "'microsoft.graph.%s'." % (key, type_name))


def _name(value, field):
    if not isinstance(value, str) or not value.strip():
        raise _bad("%s is required (a non-empty string)." % field)
    return value


# --- task definitions --------------------------------------------------------

def _definition(req, state):
    """The definition of the path, if the calling app owns it (else 404)."""
    rec = state.definitions.get(req.params["id"])
    if rec is None or rec["createdBy"]["appId"] != req.claims.get("appid"):
        raise not_found("printTaskDefinition", req.params["id"])
    return rec


def _created_by(value, old_app_id):
    """createdBy of a body: only displayName counts; appId is server-set
    (a create ignores it; an update may repeat the current one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad("createdBy must be an appIdentity object.")
    for key in value:
        if key.startswith("@odata.") or key == "displayName":
            continue
        if key == "appId":
            if old_app_id is not None and value[key] != old_app_id:
                raise _bad("createdBy.appId is read-only: it is the "
                           "application that created the definition.")
            continue
        raise _bad("The property '%s' does not exist on type "
                   "'microsoft.graph.appIdentity'." % key)
    name = value.get("displayName")
    if name is not None and not isinstance(name, str):
        raise _bad("createdBy.displayName must be a string.")
    return {"displayName": name} if "displayName" in value else {}


def list_definitions(req, state):
    _app_only(req, "Listing task definitions", DEFINITION_ROLE)
    appid = req.claims.get("appid")
    with state.lock:
        c = state.definitions
        keys = [k for k in c.ids
                if c.by_id[k]["createdBy"]["appId"] == appid]
        return graph_print.list_of(
            req, state, "printTaskDefinition", "print/taskDefinitions",
            keys, c.seq_of, c.get,
            lambda r, q: render.definition(state, req, r, q.select,
                                           q.expand),
            options=LIST_OPTIONS)


def create_definition(req, state):
    _app_only(req, "Creating a task definition", DEFINITION_ROLE)
    body = req.json()
    _check_keys(body, ("displayName", "createdBy", "id"),
                "printTaskDefinition")
    name = _name(body.get("displayName"), "displayName")
    created = _created_by(body.get("createdBy"), None)
    with state.lock:
        rec = records.task_definition(util.new_id(), name,
                                      req.claims.get("appid"),
                                      created.get("displayName"))
        state.add("taskDefinitions", rec)
        reply = graph_print.entity(req, "print/taskDefinitions",
                                   render.definition(state, req, rec))
    reply.status = 201
    return reply


def get_definition(req, state):
    _app_only(req, "Reading a task definition", DEFINITION_ROLE)
    q = odata.Query(req.raw_query, odata.ENTITY_OPTIONS,
                    "printTaskDefinition")
    with state.lock:
        rec = _definition(req, state)
        obj = render.definition(state, req, rec, q.select, q.expand)
    return graph_print.entity(req, "print/taskDefinitions", obj, q.select)


def update_definition(req, state):
    _app_only(req, "Updating a task definition", DEFINITION_ROLE)
    body = req.json()
    _check_keys(body, ("displayName", "createdBy"), "printTaskDefinition",
                read_only=("id", "tasks"))
    with state.lock:
        rec = _definition(req, state)
        created = _created_by(body.get("createdBy"),
                              rec["createdBy"]["appId"])
        if "displayName" in body:
            rec["displayName"] = _name(body["displayName"], "displayName")
        rec["createdBy"].update(created)
        obj = render.definition(state, req, rec)
    return graph_print.entity(req, "print/taskDefinitions", obj)


def delete_definition(req, state):
    _app_only(req, "Deleting a task definition", DEFINITION_ROLE)
    with state.lock:
        rec = _definition(req, state)
        users = state.definition_triggers(rec["id"])
        if users:
            raise GraphError(
                409, "conflict",
                "Invalid Operation: the task definition '%s' is used by the "
                "task trigger(s) of printer(s) %s; delete those triggers "
                "first." % (rec["id"], ", ".join(
                    "'%s'" % t["_printerId"] for t in users)))
        for task in state.delete_definition(rec["id"]):
            job = state.jobs.get(records.task_job_key(task))
            if job is not None and records.is_held(job) and \
                    state.processing_task(job_key(job)) is None:
                records.end_job(job, "aborted")
                req.app.uploads.drop_job(state, job_key(job))
    return Reply(204)


# --- tasks -------------------------------------------------------------------

def _task(req, state, definition):
    tid = req.params["tid"]
    rec = state.tasks.get(tid)
    if rec is None or rec["_definitionId"] != definition["id"]:
        raise not_found("printTask", tid)
    return rec


def _tasks_fragment(definition):
    return "print/taskDefinitions('%s')/tasks" % definition["id"]


def list_tasks(req, state):
    _app_only(req, "Listing tasks", DEFINITION_ROLE)
    with state.lock:
        definition = _definition(req, state)
        keys = list(state.tasks_by_definition.get(definition["id"], []))
        c = state.tasks
        return graph_print.list_of(
            req, state, "printTask", _tasks_fragment(definition), keys,
            c.seq_of, c.get,
            lambda r, q: render.task(state, req, r, q.select, q.expand),
            options=LIST_OPTIONS)


def get_task(req, state):
    _app_only(req, "Reading a task", DEFINITION_ROLE)
    q = odata.Query(req.raw_query, odata.ENTITY_OPTIONS, "printTask")
    with state.lock:
        definition = _definition(req, state)
        rec = _task(req, state, definition)
        obj = render.task(state, req, rec, q.select, q.expand)
    return graph_print.entity(req, _tasks_fragment(definition), obj,
                              q.select)


def _task_state(body):
    """The state a task PATCH asks for: "completed" or "aborted"."""
    _check_keys(body, ("status",), "printTask",
                read_only=("id", "parentUrl", "definition", "trigger"))
    status = body.get("status")
    if not isinstance(status, dict):
        raise _bad("status is required: {\"state\": \"completed\"} or "
                   "{\"state\": \"aborted\"}.")
    _check_keys(status, ("state", "description"), "printTaskStatus")
    want = status.get("state")
    if want not in records.TASK_FINAL_STATES:
        if want in records.TASK_DESCRIPTIONS:
            raise _bad("status.state '%s' cannot be set: a task can only "
                       "be set to completed or aborted." % want)
        raise _bad("Cannot convert the literal '%s' to the expected type "
                   "'microsoft.graph.printTaskProcessingState' "
                   "(status.state)." % (want,))
    desc = status.get("description")
    if desc is not None and not isinstance(desc, str):
        raise _bad("status.description must be a string.")
    return want


def update_task(req, state):
    _app_only(req, "Updating a task", DEFINITION_ROLE)
    body = req.json()
    with state.lock:
        definition = _definition(req, state)
        rec = _task(req, state, definition)
        want = _task_state(body)
        have = rec["status"]["state"]
        if have in records.TASK_FINAL_STATES:
            raise _rule("Invalid Operation: the task '%s' is already %s; "
                        "its status can no longer change." % (rec["id"],
                                                              have))
        records.end_task(rec, want)
        _release(req, state, state.jobs.get(records.task_job_key(rec)),
                 want)
        obj = render.task(state, req, rec)
    return graph_print.entity(req, _tasks_fragment(definition), obj)


def _release(req, state, job, outcome):
    """A held job whose last processing task ended goes on (completed) or
    is aborted."""
    if job is None or not records.is_held(job) or \
            state.processing_task(job_key(job)) is not None:
        return
    if outcome == "completed":
        state.resume_job(job, time.time() + req.app.job_seconds)
    else:
        records.end_job(job, "aborted")
        req.app.uploads.drop_job(state, job_key(job))


# --- task triggers -----------------------------------------------------------

def _administrator(req, state, what):
    user = printing.caller(req, state)
    if not printing.is_admin(user):
        raise GraphError(
            403, "accessDenied",
            "User '%s' is not a Printer Administrator; %s needs that role."
            % (user["userPrincipalName"], what))


def _triggers_fragment(printer):
    return "print/printers('%s')/taskTriggers" % printer["id"]


def _trigger(req, state, printer):
    tid = req.params["tid"]
    rec = state.triggers.get(tid)
    if rec is None or rec["_printerId"] != printer["id"]:
        raise not_found("printTaskTrigger", tid)
    return rec


def list_triggers(req, state):
    with state.lock:
        printer = state.printer(req.params["id"])
        tid = state.trigger_by_printer.get(printer["id"])
        app = getattr(req, "app", None)
        keys = [tid] if tid in state.triggers.by_id and not (
            app and app.triggers_list_empty) else []
        c = state.triggers
        return graph_print.list_of(
            req, state, "printTaskTrigger", _triggers_fragment(printer),
            keys, c.seq_of, c.get,
            lambda r, q: render.trigger(state, req, r, q.select, q.expand,
                                        single=False),
            options=LIST_OPTIONS)


def get_trigger(req, state):
    q = odata.Query(req.raw_query, odata.ENTITY_OPTIONS, "printTaskTrigger")
    with state.lock:
        printer = state.printer(req.params["id"])
        rec = _trigger(req, state, printer)
        obj = render.trigger(state, req, rec, q.select, q.expand)
    return graph_print.entity(req, _triggers_fragment(printer), obj,
                              q.select)


def _bound_definition(body):
    """The definition id named by definition@odata.bind."""
    bind = body.get("definition@odata.bind")
    if bind is None:
        raise _bad("definition@odata.bind is required: the URL of the task "
                   "definition, {graph}/print/taskDefinitions/{id}.")
    m = BIND_RE.search(bind) if isinstance(bind, str) else None
    if not m:
        raise _bad("definition@odata.bind '%s' is not the URL of a task "
                   "definition ({graph}/print/taskDefinitions/{id})."
                   % (bind,))
    return m.group(1) or m.group(2)


def create_trigger(req, state):
    body = req.json()
    with state.lock:
        _administrator(req, state, "creating a task trigger")
        printer = state.printer(req.params["id"])
        for key in body:
            if key.startswith("@odata.") or key in (
                    "event", "definition@odata.bind"):
                continue
            if key in ("id", "definition"):
                raise _bad("The property '%s' cannot be set here; bind the "
                           "definition with definition@odata.bind." % key)
            raise _bad("The property '%s' does not exist on type "
                       "'microsoft.graph.printTaskTrigger'." % key)
        event = body.get("event")
        if event != "jobStarted":
            raise _bad("event must be 'jobStarted' (the only printEvent), "
                       "not %s." % ("missing" if event is None
                                    else repr(event)))
        did = _bound_definition(body)
        appid = req.claims.get("appid")
        definition = state.definitions.get(did)
        if definition is None or \
                definition["createdBy"]["appId"] != appid:
            raise _rule(NO_DEFINITION)
        if printer["id"] in state.trigger_by_printer:
            raise _rule("Invalid Operation: There is a task trigger already "
                        "created for the printer %s. Multiple task triggers "
                        "per printer is not supported." % printer["id"])
        rec = records.task_trigger(util.new_id(), printer["id"], did, appid)
        state.add("taskTriggers", rec)
        reply = graph_print.entity(req, _triggers_fragment(printer),
                                   render.trigger(state, req, rec))
    reply.status = 201
    return reply


def delete_trigger(req, state):
    with state.lock:
        _administrator(req, state, "deleting a task trigger")
        printer = state.printer(req.params["id"])
        rec = _trigger(req, state, printer)
        state.delete_trigger(rec["id"])
    return Reply(204)


# --- job update and redirect -------------------------------------------------

def _printer_job(req, state):
    printer = state.printer(req.params["id"])
    return printer, state.job_in(state.jobs_by_printer, printer["id"],
                                 req.params["jid"])


def _configuration_patch(value, printer, field="configuration"):
    """The members of a printJobConfiguration given, checked against the
    printer's capabilities (printing.configuration)."""
    if not isinstance(value, dict):
        raise _bad("%s must be a printJobConfiguration object." % field)
    printing.configuration({"configuration": value}, printer)
    return {k: v for k, v in value.items() if not k.startswith("@")}


def update_job(req, state):
    _app_only(req, "Updating a print job")
    printing.require_role(req, UPDATE_ROLES)
    body = req.json()
    with state.lock:
        printer, rec = _printer_job(req, state)
        printing.require_task(req, state, rec, "update")
        _check_keys(body, ("configuration",), "printJob",
                    read_only=printing.JOB_PROPERTIES)
        if "configuration" not in body:
            raise _bad("configuration is required: only a print job's "
                       "configuration can be updated.")
        rec["configuration"].update(_configuration_patch(
            body["configuration"], printer))
        frag = "print/printers('%s')" % printer["id"]
        obj = render.job(state, req, rec, owner_fragment=frag)
    return graph_print.entity(req, frag + "/jobs", obj)


def _redirect_body(body):
    for key in body:
        if key.startswith("@odata.") or key in ("destinationPrinterId",
                                                "configuration"):
            continue
        raise _bad("'%s' is not a parameter of the action "
                   "'microsoft.graph.redirect' (it takes "
                   "destinationPrinterId, configuration)." % key)
    dest = body.get("destinationPrinterId")
    if not isinstance(dest, str) or not dest:
        raise _bad("destinationPrinterId is required (the id of the "
                   "printer to redirect the job to).")
    return dest


def redirect_job(req, state):
    _app_only(req, "Redirecting a print job", REDIRECT_ROLE)
    body = req.json()
    app = req.app
    with state.lock:
        printer, rec = _printer_job(req, state)
        task = printing.require_task(req, state, rec, "redirect")
        dest = state.printer(_redirect_body(body))
        if dest["id"] == printer["id"]:
            raise _bad("Print job '%s' is already on printer '%s'; redirect "
                       "it to another printer." % (rec["id"], dest["id"]))
        config = dict(rec["configuration"])
        if body.get("configuration") is not None:
            config.update(_configuration_patch(body["configuration"], dest))
        new = _new_job(req, state, rec, dest, config)
        records.redirected_job(rec, render.job_url(req, dest["id"],
                                                   new["id"]))
        records.end_task(task, "completed")
        state.start_job(new, time.time() + app.job_seconds,
                        app.held_details)
        app.uploads.drop_job(state, job_key(rec))
        frag = "print/printers('%s')" % dest["id"]
        obj = render.job(state, req, new, owner_fragment=frag)
    return graph_print.entity(req, frag + "/jobs", obj)


def _new_job(req, state, src, dest, config):
    """The job a redirect queues on dest: src's creator and document (the
    same bytes, a new document id), not yet started."""
    jid = state.allocate_job_id()
    old = src["documents"][0]
    doc = records.document(util.new_id(), old["displayName"],
                           old["contentType"], old["size"],
                           old.get("uploadedDateTime"))
    rec = records.job(jid, dest["id"], None, dict(src["createdBy"]),
                      "paused", doc, util.now_str(), config, details=[])
    rec["redirectedFrom"] = render.job_url(req, src["_printerId"],
                                           src["id"])
    if src.get("_sha256"):
        rec["_sha256"] = src["_sha256"]
    if src.get("_pageCount") is not None:
        rec["_pageCount"] = src["_pageCount"]
    req.app.uploads.copy_document(old["id"], doc["id"])
    state.add_job(rec)
    return rec


def register(router):
    """Adds the routes (app.graph_router, before graph_print)."""
    add = router.add
    add("GET", "/print/taskDefinitions", list_definitions)
    add("POST", "/print/taskDefinitions", create_definition)
    add("GET", "/print/taskDefinitions/{id}", get_definition)
    add("PATCH", "/print/taskDefinitions/{id}", update_definition)
    add("DELETE", "/print/taskDefinitions/{id}", delete_definition)
    add("GET", "/print/taskDefinitions/{id}/tasks", list_tasks)
    add("GET", "/print/taskDefinitions/{id}/tasks/{tid}", get_task)
    add("PATCH", "/print/taskDefinitions/{id}/tasks/{tid}", update_task)
    base = "/print/printers/{id}/taskTriggers"
    add("GET", base, list_triggers, app_ok=False)
    add("POST", base, create_trigger, app_ok=False)
    add("GET", base + "/{tid}", get_trigger, app_ok=False)
    add("DELETE", base + "/{tid}", delete_trigger, app_ok=False)
    add("PATCH", "/print/printers/{id}/jobs/{jid}", update_job)
    add("POST", "/print/printers/{id}/jobs/{jid}/redirect", redirect_job)
