"""The emulator's pull printing (tools/emulator/pulltasks.py; reference
§2.17-§2.19, §3.2, §3.6, §8.3, §11), over real HTTP: an application's task
definitions, a Printer Administrator's trigger on the demo's virtual
printer, a user's job held by its task, and the three ways out (redirect
to a physical printer, task completed, task aborted or job aborted). Every
refusal is checked for its status and error, and that nothing changed:
the state, the tasks and the write log."""

import hashlib
import re
import time

import pytest

import util
from graphclient import Client, assert_refused, request

ADMIN = "admin@contoso.com"
ALICE = "alice@contoso.com"
APP = "upfs-demo-app"
OTHER_APP = "contoso-other-app"
VIRTUAL = "Pull Print (virtual)"
PHYSICAL = "Floor3 LaserJet"
SECURE_SHARE = "Secure Release"
JOB_SECONDS = 0.5
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NO_DEFINITION = ("Invalid Operation:No Task definition object found with "
                 "given parameters.")
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 300 + b"\n%%EOF\n"


# --- a client that shows everything ------------------------------------------

def token(emu, **body):
    status, out = emu.call("POST", "/_emulator/token", body)
    assert status == 200, out
    return out["access_token"]


def pull(emu):
    """GET /_emulator/tasks: tasks, definitions, triggers of every app."""
    status, out = emu.call("GET", "/_emulator/tasks")
    assert status == 200, out
    return out


class Unchanged:
    """Snapshot of the state, the pull-printing objects and an empty write
    log; check() asserts that a refused request left them alone."""

    def __init__(self, emu):
        self.emu = emu
        emu.reset_writes()
        self.before = (emu.state(), pull(emu))

    def check(self):
        assert self.emu.writes() == []
        assert (self.emu.state(), pull(self.emu)) == self.before


# --- fixtures ----------------------------------------------------------------

@pytest.fixture
def emu(start_emulator):
    return start_emulator("demo", extra_args=["--job-seconds",
                                              str(JOB_SECONDS)])


@pytest.fixture
def app(emu):
    """The demo application (client credentials)."""
    return Client(emu, token(emu, kind="app", client_id=APP))


@pytest.fixture
def other_app(emu):
    return Client(emu, token(emu, kind="app", client_id=OTHER_APP))


@pytest.fixture
def admin(emu):
    """A Printer Administrator signed in through the demo application."""
    return Client(emu, token(emu, upn=ADMIN, client_id=APP))


@pytest.fixture
def alice(emu):
    return Client(emu, token(emu, upn=ALICE))


def printer_id(emu, name):
    for rec in emu.state(only=["printers"])["printers"]:
        if rec["displayName"] == name:
            return rec["id"]
    pytest.fail("no printer %r" % name)


def make_definition(app, name="Secure release"):
    return app.ok("POST", "/print/taskDefinitions",
                  {"displayName": name,
                   "createdBy": {"displayName": "Badge reader"}}, 201)


def make_trigger(emu, admin, pid, did):
    return admin.ok("POST", "/print/printers/%s/taskTriggers" % pid,
                    {"event": "jobStarted",
                     "definition@odata.bind": "%s/print/taskDefinitions/%s"
                     % (emu.endpoint, did)}, 201)


@pytest.fixture
def pull_setup(emu, app, admin):
    """A definition of the demo app and its trigger on the virtual
    printer: (definition, trigger, virtual printer id)."""
    vp = printer_id(emu, VIRTUAL)
    definition = make_definition(app)
    trigger = make_trigger(emu, admin, vp, definition["id"])
    return definition, trigger, vp


def print_to(emu, user, share_name, data=PDF):
    """Creates a job on the share as user, uploads data and starts it;
    returns (job id, document id, the start reply)."""
    share = emu.share_by_name(share_name)
    base = "/print/shares/%s/jobs" % share["id"]
    job = user.ok("POST", base, {"configuration": {}}, 201)
    did = job["documents"][0]["id"]
    sess = user.ok("POST", "%s/%s/documents/%s/createUploadSession"
                   % (base, job["id"], did),
                   {"properties": {"documentName": "payslip.pdf",
                                   "contentType": "application/pdf",
                                   "size": len(data)}})
    r = request(emu, "PUT", sess["uploadUrl"], data, headers={
        "Content-Range": "bytes 0-%d/%d" % (len(data) - 1, len(data)),
        "Content-Type": "application/octet-stream"})
    assert r.status == 201, r.data
    started = user.ok("POST", "%s/%s/start" % (base, job["id"]))
    return job["id"], did, started


def tasks_of(emu, jid):
    return [t for t in pull(emu)["value"] if t["jobId"] == jid]


def held(emu, jid):
    job = emu.job(jid)
    return job["state"] == "paused" and job["details"] == ["releaseWait"]


def download(emu, client, pid, jid, did):
    r = client("GET", "/print/printers/%s/jobs/%s/documents/%s/$value"
               % (pid, jid, did))
    assert r.status == 302, r.data
    got = request(emu, "GET", r.headers["location"])
    assert got.status == 200, got.data
    return got.data


def wait_state(emu, jid, state):
    return util.wait_until(lambda: emu.job(jid)["state"] == state,
                           timeout=10, what="job %s %s" % (jid, state))


# --- task definitions --------------------------------------------------------

def test_definition_lifecycle(emu, app, other_app):
    d = make_definition(app)
    assert re.fullmatch(GUID, d["id"])
    assert d["@odata.context"] == \
        emu.endpoint + "/$metadata#print/taskDefinitions/$entity"
    assert d["displayName"] == "Secure release"
    assert d["createdBy"] == {"appId": APP, "displayName": "Badge reader"}
    # id and createdBy.appId are the service's, whatever is sent.
    bare = app.ok("POST", "/print/taskDefinitions",
                  {"displayName": "Second", "id": "mine",
                   "createdBy": {"appId": "someone-else"}}, 201)
    assert bare["id"] != "mine"
    assert bare["createdBy"] == {"appId": APP, "displayName": None}
    listed = app.ok("GET", "/print/taskDefinitions")
    assert listed["@odata.context"] == \
        emu.endpoint + "/$metadata#print/taskDefinitions"
    assert [x["id"] for x in listed["value"]] == [d["id"], bare["id"]]
    assert app.ok("GET", "/print/taskDefinitions/" + d["id"])["displayName"] \
        == "Secure release"
    # Another application sees none of them.
    assert other_app.ok("GET", "/print/taskDefinitions")["value"] == []
    assert_refused(other_app("GET", "/print/taskDefinitions/" + d["id"]),
                   404, d["id"], codes=("itemNotFound",))
    # PATCH: displayName and createdBy.displayName only.
    out = app.ok("PATCH", "/print/taskDefinitions/" + d["id"],
                 {"displayName": "Renamed",
                  "createdBy": {"displayName": "Kiosk"}})
    assert (out["id"], out["displayName"], out["createdBy"]) == \
        (d["id"], "Renamed", {"appId": APP, "displayName": "Kiosk"})
    for body in ({"id": "x"}, {"createdBy": {"appId": OTHER_APP}},
                 {"displayName": ""}, {"color": "red"}):
        assert_refused(app("PATCH", "/print/taskDefinitions/" + d["id"],
                           body), 400, codes=("invalidRequest",))
    assert_refused(other_app("PATCH", "/print/taskDefinitions/" + d["id"],
                             {"displayName": "Stolen"}), 404)
    assert_refused(other_app("DELETE", "/print/taskDefinitions/" + d["id"]),
                   404)
    assert app.ok("GET", "/print/taskDefinitions/" + d["id"])[
        "displayName"] == "Renamed"
    r = app("DELETE", "/print/taskDefinitions/" + d["id"])
    assert r.status == 204 and r.data == b""
    assert_refused(app("GET", "/print/taskDefinitions/" + d["id"]), 404)
    assert [x["id"] for x in pull(emu)["definitions"]] == [bare["id"]]


def test_definitions_refuse_delegated_tokens_and_bad_requests(emu, app,
                                                              admin):
    make_definition(app)
    unchanged = Unchanged(emu)
    for method, path, body in (
            ("GET", "/print/taskDefinitions", None),
            ("POST", "/print/taskDefinitions", {"displayName": "User's"})):
        assert_refused(admin(method, path, body), 403,
                       "application token", codes=("accessDenied",))
    for body in ({}, {"displayName": 7}, {"displayName": "x", "tasks": []},
                 {"displayName": "x", "createdBy": "me"}):
        assert_refused(app("POST", "/print/taskDefinitions", body), 400,
                       codes=("invalidRequest",))
    # The options §3.6 lists as unsupported.
    for option in ("$top=1", "$select=displayName", "$count=true",
                   "$skip=1", "$search=x", "$format=json"):
        assert_refused(app("GET", "/print/taskDefinitions?" + option), 400,
                       "not allowed", codes=("BadRequest",))
    # An application without PrintTaskDefinition.ReadWrite.All.
    weak = Client(emu, token(emu, kind="app", client_id=APP,
                             roles=["PrintJob.ReadWrite.All"]))
    assert_refused(weak("GET", "/print/taskDefinitions"), 403,
                   "required security scopes", codes=("UnknownError",))
    unchanged.check()


# --- task triggers -----------------------------------------------------------

def test_trigger_lifecycle(emu, app, admin, alice):
    vp = printer_id(emu, VIRTUAL)
    d = make_definition(app)
    t = make_trigger(emu, admin, vp, d["id"])
    assert re.fullmatch(GUID, t["id"]) and t["event"] == "jobStarted"
    assert t["@odata.context"] == emu.endpoint + \
        "/$metadata#print/printers('%s')/taskTriggers/$entity" % vp
    assert set(t) == {"@odata.context", "id", "event"}
    # Any signed-in user may read it; $expand shows the definition.
    listed = alice.ok("GET", "/print/printers/%s/taskTriggers" % vp)
    assert [x["id"] for x in listed["value"]] == [t["id"]]
    one = admin.ok("GET", "/print/printers/%s/taskTriggers/%s?"
                   "$expand=definition" % (vp, t["id"]))
    assert one["definition"]["id"] == d["id"]
    assert one["definition"]["createdBy"]["appId"] == APP
    assert pull(emu)["triggers"] == [{"id": t["id"], "event": "jobStarted",
                                      "printerId": vp,
                                      "definitionId": d["id"], "appId": APP}]
    # The trigger is on the virtual printer only.
    fp = printer_id(emu, PHYSICAL)
    assert admin.ok("GET", "/print/printers/%s/taskTriggers" % fp)[
        "value"] == []
    assert_refused(admin("GET", "/print/printers/%s/taskTriggers/%s"
                         % (fp, t["id"])), 404)
    assert_refused(alice("DELETE", "/print/printers/%s/taskTriggers/%s"
                         % (vp, t["id"])), 403, "Printer Administrator",
                   codes=("accessDenied",))
    r = admin("DELETE", "/print/printers/%s/taskTriggers/%s" % (vp, t["id"]))
    assert r.status == 204 and r.data == b""
    assert admin.ok("GET", "/print/printers/%s/taskTriggers" % vp)[
        "value"] == []
    assert_refused(admin("DELETE", "/print/printers/%s/taskTriggers/%s"
                         % (vp, t["id"])), 404)
    assert pull(emu)["triggers"] == []


def test_trigger_refusals(emu, app, other_app, admin, alice):
    vp = printer_id(emu, VIRTUAL)
    mine = make_definition(app)
    theirs = make_definition(other_app, "Other's")
    make_trigger(emu, admin, vp, mine["id"])
    unchanged = Unchanged(emu)
    fp = printer_id(emu, PHYSICAL)
    path = "/print/printers/%s/taskTriggers" % fp

    def body(did, **extra):
        return dict({"event": "jobStarted", "definition@odata.bind":
                     "%s/print/taskDefinitions/%s" % (emu.endpoint, did)},
                    **extra)

    # Wrong identity: an app token; a user who is not an administrator.
    assert_refused(app("POST", path, body(mine["id"])), 403,
                   "delegated", codes=("accessDenied",))
    assert_refused(app("GET", path), 403, codes=("accessDenied",))
    alice_app = Client(emu, token(emu, upn=ALICE, client_id=APP))
    assert_refused(alice_app("POST", path, body(mine["id"])), 403,
                   "Printer Administrator", codes=("accessDenied",))
    # The definition of another app, or through another app's sign-in.
    assert_refused(admin("POST", path, body(theirs["id"])), 400,
                   NO_DEFINITION, codes=("400",))
    other_signin = Client(emu, token(emu, upn=ADMIN))   # upfs-emulator
    assert_refused(other_signin("POST", path, body(mine["id"])), 400,
                   NO_DEFINITION, codes=("400",))
    assert_refused(admin("POST", path, body(
        "00000000-0000-0000-0000-000000000000")), 400, NO_DEFINITION)
    # Malformed bodies.
    for bad in ({"event": "jobStarted"},
                body(mine["id"], event="jobCompleted"),
                {"definition@odata.bind": body(mine["id"])[
                    "definition@odata.bind"]},
                body(mine["id"], color="red"),
                {"event": "jobStarted", "definition@odata.bind":
                 "%s/print/printers/%s" % (emu.endpoint, fp)}):
        assert_refused(admin("POST", path, bad), 400,
                       codes=("invalidRequest",))
    assert_refused(admin("POST", "/print/printers/nope/taskTriggers",
                         body(mine["id"])), 404, codes=("itemNotFound",))
    # One trigger per printer (§11 #4: a 400, not a 409).
    assert_refused(admin("POST", "/print/printers/%s/taskTriggers" % vp,
                         body(mine["id"])), 400,
                   "There is a task trigger already created for the "
                   "printer %s" % vp, codes=("400",))
    unchanged.check()
    # The relative and parenthesised forms of the bind work.
    out = admin.ok("POST", path, {"event": "jobStarted",
                                  "definition@odata.bind":
                                  "print/taskDefinitions('%s')"
                                  % mine["id"]}, 201)
    assert pull(emu)["triggers"][-1]["id"] == out["id"]


def test_definition_in_use_cannot_be_deleted(emu, app, admin, pull_setup):
    definition, trigger, vp = pull_setup
    unchanged = Unchanged(emu)
    assert_refused(app("DELETE", "/print/taskDefinitions/" +
                       definition["id"]), 409, vp, codes=("conflict",))
    unchanged.check()
    assert admin("DELETE", "/print/printers/%s/taskTriggers/%s"
                 % (vp, trigger["id"])).status == 204
    assert app("DELETE", "/print/taskDefinitions/" +
               definition["id"]).status == 204
    assert pull(emu)["definitions"] == []


# --- the hold ----------------------------------------------------------------

def test_no_trigger_no_hold(emu, alice, app):
    jid, _, started = print_to(emu, alice, SECURE_SHARE)
    assert started["state"] == "processing"
    wait_state(emu, jid, "completed")
    assert tasks_of(emu, jid) == []
    out = app.ok("GET", "/print/printers/%s/jobs/%s?$expand=tasks"
                 % (printer_id(emu, VIRTUAL), jid))
    assert out["tasks"] == []


def test_whole_flow_redirect(emu, app, admin, alice, pull_setup):
    definition, trigger, vp = pull_setup
    fp = printer_id(emu, PHYSICAL)
    jid, did, started = print_to(emu, alice, SECURE_SHARE)
    # start answers as documented; the job is then held by its task.
    assert started == {"state": "processing",
                       "description": "The print job is currently being "
                                      "processed.",
                       "isAcquiredByPrinter": False,
                       "details": ["interpreting"]}
    tasks = app.ok("GET", "/print/taskDefinitions/%s/tasks"
                   % definition["id"])
    assert tasks["@odata.context"] == emu.endpoint + \
        "/$metadata#print/taskDefinitions('%s')/tasks" % definition["id"]
    assert len(tasks["value"]) == 1
    task = tasks["value"][0]
    assert task == {"id": task["id"],
                    "parentUrl": "%s/print/printers/%s/jobs/%s"
                                 % (emu.endpoint, vp, jid),
                    "status": {"state": "processing",
                               "description": "The task is being "
                                              "processed."}}
    time.sleep(3 * JOB_SECONDS)
    assert held(emu, jid), emu.job(jid)
    job = app.ok("GET", "/print/printers/%s/jobs/%s?$expand=tasks"
                 % (vp, jid))
    assert job["status"] == {
        "state": "paused",
        "description": "The job is not a candidate for processing yet.",
        "details": ["releaseWait"], "isAcquiredByPrinter": False}
    assert job["isFetchable"] is False
    assert [t["id"] for t in job["tasks"]] == [task["id"]]
    # The task with its definition and trigger.
    one = app.ok("GET", "/print/taskDefinitions/%s/tasks/%s?"
                 "$expand=definition,trigger"
                 % (definition["id"], task["id"]))
    assert one["definition"]["id"] == definition["id"]
    assert one["trigger"] == {"id": trigger["id"], "event": "jobStarted"}
    # Starting it again is refused.
    share = emu.share_by_name(SECURE_SHARE)
    assert_refused(alice("POST", "/print/shares/%s/jobs/%s/start"
                         % (share["id"], jid)), 400, "held")
    # The app reads the document while the task is processing.
    assert download(emu, app, vp, jid, did) == PDF
    # Release: redirect to the physical printer.
    emu.reset_writes()
    r = app("POST", "/print/printers/%s/jobs/%s/redirect" % (vp, jid),
            {"destinationPrinterId": fp,
             "configuration": {"copies": 2}})
    assert r.status == 200, r.data
    new = r.json()
    assert new["@odata.context"] == emu.endpoint + \
        "/$metadata#print/printers('%s')/jobs/$entity" % fp
    assert new["id"] != jid and new["id"].isdigit()
    assert new["redirectedFrom"] == "%s/print/printers/%s/jobs/%s" % (
        emu.endpoint, vp, jid)
    assert new["redirectedTo"] is None
    assert new["createdBy"]["userPrincipalName"] == ALICE
    assert new["configuration"]["copies"] == 2
    assert new["status"]["state"] == "processing"
    assert [(w["method"], w["route"], w["status"]) for w in emu.writes()] \
        == [("POST", "/print/printers/{id}/jobs/{jid}/redirect", 200)]
    # The source: redirectedTo, out of the active jobs; the task completed.
    src = app.ok("GET", "/print/printers/%s/jobs/%s" % (vp, jid))
    assert src["redirectedTo"] == "%s/print/printers/%s/jobs/%s" % (
        emu.endpoint, fp, new["id"])
    assert src["status"]["state"] == "completed"
    assert src["status"]["isAcquiredByPrinter"] is False
    done = app.ok("GET", "/print/taskDefinitions/%s/tasks/%s"
                  % (definition["id"], task["id"]))
    assert done["status"] == {"state": "completed",
                              "description": "Task execution is completed."}
    # The new job: same bytes, new document id, on the physical printer,
    # which prints it; alice sees it there as hers.
    summary = emu.job(new["id"])
    assert summary["printerId"] == fp
    assert summary["sha256"] == hashlib.sha256(PDF).hexdigest()
    new_did = summary["documentId"]
    assert new_did != did
    assert download(emu, app, fp, new["id"], new_did) == PDF
    assert download(emu, alice, fp, new["id"], new_did) == PDF
    wait_state(emu, new["id"], "completed")
    mine = alice.ok("GET", "/print/printers/%s/jobs" % fp)
    assert new["id"] in [j["id"] for j in mine["value"]]
    assert [(t["jobId"], t["state"]) for t in pull(emu)["value"]] == \
        [(jid, "completed")]
    # Nothing more may be done to the source job: its task is done.
    unchanged = Unchanged(emu)
    assert_refused(app("POST", "/print/printers/%s/jobs/%s/redirect"
                       % (vp, jid), {"destinationPrinterId": fp}), 403,
                   "no task in processing", codes=("accessDenied",))
    unchanged.check()


def test_task_completed_releases_the_job(emu, app, pull_setup):
    definition, _, vp = pull_setup
    jid, _, _ = print_to(emu, Client(emu, token(emu, upn=ALICE)),
                         SECURE_SHARE)
    (task,) = tasks_of(emu, jid)
    path = "/print/taskDefinitions/%s/tasks/%s" % (definition["id"],
                                                    task["id"])
    unchanged = Unchanged(emu)
    for body in ({"status": {"state": "processing"}},
                 {"status": {"state": "pending"}},
                 {"status": {"state": "done"}},
                 {"status": {"state": "completed", "color": "red"}},
                 {"status": {"state": "completed"}, "parentUrl": "x"},
                 {"state": "completed"}):
        assert_refused(app("PATCH", path, body), 400,
                       codes=("invalidRequest",))
    unchanged.check()
    out = app.ok("PATCH", path, {"status": {"state": "completed",
                                            "description": "released"}})
    assert out["@odata.context"] == emu.endpoint + \
        "/$metadata#print/taskDefinitions('%s')/tasks/$entity" \
        % definition["id"]
    assert out["status"] == {"state": "completed",
                             "description": "Task execution is completed."}
    assert out["parentUrl"].endswith("/print/printers/%s/jobs/%s"
                                     % (vp, jid))
    assert emu.job(jid)["state"] == "processing"
    wait_state(emu, jid, "completed")
    assert emu.job(jid)["details"] == ["completedSuccessfully"]
    # A finished task stays finished.
    unchanged = Unchanged(emu)
    assert_refused(app("PATCH", path, {"status": {"state": "aborted"}}),
                   400, "already completed", codes=("400",))
    unchanged.check()


def test_task_aborted_aborts_the_job(emu, app, alice, pull_setup):
    definition, _, _ = pull_setup
    jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    (task,) = tasks_of(emu, jid)
    out = app.ok("PATCH", "/print/taskDefinitions/%s/tasks/%s"
                 % (definition["id"], task["id"]),
                 {"status": {"state": "aborted"}})
    assert out["status"] == {"state": "aborted",
                             "description": "Task execution is aborted."}
    assert emu.job(jid)["state"] == "aborted"
    time.sleep(2 * JOB_SECONDS)
    assert emu.job(jid)["state"] == "aborted"


def test_abort_needs_the_processing_task(emu, app, other_app, admin, alice,
                                         pull_setup):
    _, _, vp = pull_setup
    jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    path = "/print/printers/%s/jobs/%s/abort" % (vp, jid)
    unchanged = Unchanged(emu)
    assert_refused(other_app("POST", path), 403,
                   "its task belongs to another application",
                   codes=("accessDenied",))
    assert_refused(admin("POST", path), 403, codes=("accessDenied",))
    unchanged.check()
    r = app("POST", path, {"reason": "badge timeout"})
    assert r.status == 204, r.data
    assert emu.job(jid)["state"] == "aborted"
    assert [t["state"] for t in tasks_of(emu, jid)] == ["aborted"]
    # A job on the virtual printer that never started has no task.
    pending = [j for j in emu.jobs(printerId=vp) if j["state"] == "pending"]
    assert pending
    unchanged = Unchanged(emu)
    assert_refused(app("POST", "/print/printers/%s/jobs/%s/abort"
                       % (vp, pending[0]["id"])), 403,
                   "no task in processing")
    unchanged.check()


def upload_session(client, pid, jid, did, data, name="stamped.pdf"):
    return client("POST", "/print/printers/%s/jobs/%s/documents/%s/"
                  "createUploadSession" % (pid, jid, did),
                  {"properties": {"documentName": name,
                                  "contentType": "application/pdf",
                                  "size": len(data)}})


def put_whole(emu, sess, data, status=201):
    r = request(emu, "PUT", sess["uploadUrl"], data, headers={
        "Content-Range": "bytes 0-%d/%d" % (len(data) - 1, len(data)),
        "Content-Type": "application/octet-stream"})
    assert r.status == status, r.data


def test_app_replaces_the_payload_of_a_held_job(emu, app, other_app, admin,
                                                alice, pull_setup):
    """Reference §3.0, §8.3 step 7: while its task is in processing the
    application may replace a held job's document (createUploadSession
    on the printer path, app-only); nobody else, and not after."""
    definition, _, vp = pull_setup
    jid, did, _ = print_to(emu, alice, SECURE_SHARE)
    stamped = b"%PDF-1.7\n% stamped by the release app\n" + PDF[9:]
    share = emu.share_by_name(SECURE_SHARE)
    unchanged = Unchanged(emu)
    assert_refused(upload_session(other_app, vp, jid, did, stamped), 403,
                   "its task belongs to another application",
                   codes=("accessDenied",))
    assert_refused(app("POST", "/print/shares/%s/jobs/%s/documents/%s/"
                       "createUploadSession" % (share["id"], jid, did),
                       {"properties": {"documentName": "x.pdf",
                                       "contentType": "application/pdf",
                                       "size": 10}}), 403)
    for roles in (["PrintJob.Read.All"], ["PrintJob.Manage.All"]):
        weak = Client(emu, token(emu, kind="app", client_id=APP,
                                 roles=roles))
        assert_refused(upload_session(weak, vp, jid, did, stamped), 403)
    # Users still upload only to a new job.
    assert_refused(upload_session(admin, vp, jid, did, stamped), 400,
                   "not waiting for its document")
    unchanged.check()
    r = upload_session(app, vp, jid, did, stamped)
    assert r.status == 200, r.data
    put_whole(emu, r.json(), stamped)
    assert held(emu, jid)       # still waiting for its release
    assert download(emu, app, vp, jid, did) == stamped
    doc = emu.job_document(jid)
    assert (doc["size"], doc["documentName"]) == (len(stamped),
                                                  "stamped.pdf")
    assert doc["sha256"] == hashlib.sha256(stamped).hexdigest()
    # A replacement whose task ended before its last byte changes nothing
    # and says so.
    r = upload_session(app, vp, jid, did, PDF, name="late.pdf")
    assert r.status == 200, r.data
    (task,) = tasks_of(emu, jid)
    app.ok("PATCH", "/print/taskDefinitions/%s/tasks/%s"
           % (definition["id"], task["id"]),
           {"status": {"state": "completed"}})
    put_whole(emu, r.json(), PDF, status=403)
    doc = emu.job_document(jid)
    assert (doc["size"], doc["documentName"]) == (len(stamped),
                                                  "stamped.pdf")
    # Released: no task in processing, no new payload.
    unchanged = Unchanged(emu)
    assert_refused(upload_session(app, vp, jid, did, PDF), 403,
                   "no task in processing", codes=("accessDenied",))
    unchanged.check()


def test_user_cancel_of_a_held_job_aborts_its_task(emu, alice, pull_setup):
    jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    share = emu.share_by_name(SECURE_SHARE)
    r = alice("POST", "/print/shares/%s/jobs/%s/cancel" % (share["id"], jid))
    assert r.status == 204, r.data
    assert emu.job(jid)["state"] == "canceled"
    assert [t["state"] for t in tasks_of(emu, jid)] == ["aborted"]


def test_update_job_configuration(emu, app, other_app, alice, pull_setup):
    _, _, vp = pull_setup
    jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    path = "/print/printers/%s/jobs/%s" % (vp, jid)
    before = emu.job(jid)["configuration"]
    unchanged = Unchanged(emu)
    assert_refused(alice("PATCH", path, {"configuration": {"copies": 2}}),
                   403, "application token", codes=("accessDenied",))
    assert_refused(other_app("PATCH", path,
                             {"configuration": {"copies": 2}}), 403,
                   "its task belongs to another application",
                   codes=("accessDenied",))
    for body in ({}, {"configuration": {"copies": 2}, "status": {}},
                 {"configuration": {"colorMode": "purple"}},
                 {"configuration": {"mediaSize": "A0"}},
                 {"configuration": "copies=2"}):
        assert_refused(app("PATCH", path, body), 400,
                       codes=("invalidRequest",))
    unchanged.check()
    out = app.ok("PATCH", path, {"configuration": {"copies": 3,
                                                   "mediaSize": "A3"}})
    assert out["@odata.context"] == emu.endpoint + \
        "/$metadata#print/printers('%s')/jobs/$entity" % vp
    assert out["configuration"] == dict(before, copies=3, mediaSize="A3")
    assert held(emu, jid)       # still waiting for its release


def test_redirect_refusals(emu, app, other_app, admin, alice, pull_setup):
    definition, _, vp = pull_setup
    fp = printer_id(emu, PHYSICAL)
    jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    path = "/print/printers/%s/jobs/%s/redirect" % (vp, jid)
    unchanged = Unchanged(emu)
    # Wrong identity.
    assert_refused(admin("POST", path, {"destinationPrinterId": fp}), 403,
                   "application token", codes=("accessDenied",))
    assert_refused(other_app("POST", path, {"destinationPrinterId": fp}),
                   403, "its task belongs to another application",
                   codes=("accessDenied",))
    weak = Client(emu, token(emu, kind="app", client_id=APP,
                             roles=["PrintJob.ReadWrite.All",
                                    "PrintTaskDefinition.ReadWrite.All"]))
    assert_refused(weak("POST", path, {"destinationPrinterId": fp}), 403,
                   codes=("UnknownError",))
    # No processing task: a job that never started, on either printer.
    for job in (emu.jobs(printerId=vp)[0], emu.jobs(printerId=fp)[0]):
        assert_refused(app("POST", "/print/printers/%s/jobs/%s/redirect"
                           % (job["printerId"], job["id"]),
                           {"destinationPrinterId": fp}), 403,
                       "no task in processing", codes=("accessDenied",))
    # Unknown printer, job.
    assert_refused(app("POST", path, {"destinationPrinterId": "nope"}),
                   404, "nope", codes=("itemNotFound",))
    assert_refused(app("POST", "/print/printers/%s/jobs/9999/redirect" % vp,
                       {"destinationPrinterId": fp}), 404,
                   codes=("itemNotFound",))
    # Bad bodies.
    for body in ({}, {"destinationPrinterId": 7},
                 {"destinationPrinterId": vp},
                 {"destinationPrinterId": fp, "priority": 1},
                 {"destinationPrinterId": fp,
                  "configuration": {"colorMode": "color"}}):
        assert_refused(app("POST", path, body), 400,
                       codes=("invalidRequest",))
    unchanged.check()
    assert held(emu, jid)
    assert [t["state"] for t in tasks_of(emu, jid)] == ["processing"]


def test_other_apps_tasks_are_invisible(emu, app, other_app, alice,
                                        pull_setup):
    definition, _, _ = pull_setup
    jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    (task,) = tasks_of(emu, jid)
    base = "/print/taskDefinitions/%s" % definition["id"]
    unchanged = Unchanged(emu)
    assert other_app.ok("GET", "/print/taskDefinitions")["value"] == []
    for method, path, body in (
            ("GET", base + "/tasks", None),
            ("GET", base + "/tasks/" + task["id"], None),
            ("PATCH", base + "/tasks/" + task["id"],
             {"status": {"state": "completed"}})):
        assert_refused(other_app(method, path, body), 404,
                       definition["id"], codes=("itemNotFound",))
        assert_refused(alice(method, path, body), 403,
                       "application token", codes=("accessDenied",))
    unchanged.check()


def test_trigger_removed_leaves_tasks_to_finish(emu, app, admin, alice,
                                                pull_setup):
    definition, trigger, vp = pull_setup
    held_jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    assert admin("DELETE", "/print/printers/%s/taskTriggers/%s"
                 % (vp, trigger["id"])).status == 204
    # New jobs are no longer held.
    free_jid, _, _ = print_to(emu, alice, SECURE_SHARE)
    wait_state(emu, free_jid, "completed")
    assert tasks_of(emu, free_jid) == []
    # The held one still is; its task stays the app's to finish, and the
    # $expand of a trigger that is gone is null.
    assert held(emu, held_jid)
    (task,) = tasks_of(emu, held_jid)
    out = app.ok("GET", "/print/taskDefinitions/%s/tasks/%s?$expand=trigger"
                 % (definition["id"], task["id"]))
    assert out["trigger"] is None
    # Deleting the definition aborts the job nobody can release any more.
    assert app("DELETE", "/print/taskDefinitions/" +
               definition["id"]).status == 204
    assert emu.job(held_jid)["state"] == "aborted"
    assert tasks_of(emu, held_jid) == []
