"""Pull printing (secure release) through the tree (design.md §2; issue 6;
reference §3.6, §8.3).

A mount holding both identities — the administrator signed in (delegated)
and the application (client credentials) — makes a task definition with
mkdir, a trigger on the virtual printer with touch, follows new tasks by
reading events, and releases a held job with mv into a physical printer's
jobs/ (or upfsctl release). A user prints from another mount. Each
refusal (no application identity, no processing task, another app's
definitions) comes back as an errno with its reason; events blocks until a
task arrives."""

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

import signin
import util
from test_print import pending_entries

VIRTUAL = "Pull Print (virtual)"
SECURE = "Secure Release"
FLOOR3 = "Floor3 LaserJet"
APP, SECRET = "upfs-demo-app", "demo-secret"
ALICE = "alice@contoso.com"


def token(emu, **body):
    return emu.call("POST", "/_emulator/token", body)[1]["access_token"]


def app_options(emu, workdir, *extra):
    """The app's registration for an admin mount, its secret in a private
    file (client_secret= on the command line is taken with a warning)."""
    secret = os.path.join(workdir, "app.secret")
    with open(secret, "w") as fh:
        fh.write(SECRET + "\n")
    os.chmod(secret, 0o600)
    return ["authority=" + emu.authority, "client_id=" + APP,
            "client_secret_file=" + secret] + list(extra)


@pytest.fixture
def emu(emulator):
    emulator.call("POST", "/_emulator", {"jobSeconds": 1})
    return emulator


@pytest.fixture
def admin(emu, upfs_mount, workdir):
    """The administrator signed in through the app's own registration
    (a trigger must name a definition of the same app, §8.3), and the app
    itself by client credentials."""
    return upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                       client_id=APP),
                      options=app_options(emu, workdir, "dir_ttl=1",
                                          "status_ttl=1"))


@pytest.fixture
def alice(emu, upfs_mount):
    return upfs_mount(emu, token=emu.mint_token(ALICE))


def print_as(mount, workdir, name, size=200 * 1024):
    data = b"%PDF-1.7\n" + os.urandom(size)
    src = os.path.join(workdir, name)
    with open(src, "wb") as fh:
        fh.write(data)
    util.run(["cp", src, mount.p("shares", SECURE, "queue", name)])
    return data


def tasks(emu):
    return emu.call("GET", "/_emulator/tasks")[1]["value"]


def set_up(admin, name="Badge"):
    os.mkdir(admin.p("task_definitions", name))
    open(admin.p("printers", VIRTUAL, "task_triggers", name), "w").close()


def held_task(emu, admin, alice, workdir, name):
    """Sets up pull printing, prints name as alice: the task holding it."""
    set_up(admin)
    print_as(alice, workdir, name)
    util.wait_until(lambda: tasks(emu), timeout=10, what="a task")
    return tasks(emu)[0]


class EventReader(threading.Thread):
    """Reads one line of events, as `read line < events` would."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.fh = open(path, "rb", buffering=0)
        self.line = None
        self.error = None

    def run(self):
        try:
            out = b""
            while not out.endswith(b"\n"):
                chunk = self.fh.read(4096)
                if not chunk:
                    break
                out += chunk
            self.line = out.decode()
        except OSError as exc:
            self.error = exc
        finally:
            try:
                self.fh.close()
            except OSError:     # the mount is gone (a test that stops it)
                pass


def test_the_whole_flow(emu, admin, alice, workdir):
    set_up(admin)
    d = admin.p("task_definitions", "Badge")
    assert sorted(os.listdir(d)) == ["definition.json", "events", "tasks"]
    definition = util.read_json(os.path.join(d, "definition.json"))
    assert definition["displayName"] == "Badge"
    assert definition["createdBy"]["appId"] == APP
    assert os.listdir(admin.p("printers", VIRTUAL, "task_triggers")) == \
        ["Badge"]

    reader = EventReader(os.path.join(d, "events"))
    reader.start()
    reader.join(1)
    assert reader.is_alive(), "events returned with no task: %r" % \
        reader.line

    data = print_as(alice, workdir, "payslip.pdf")
    reader.join(util.scaled(30))
    assert not reader.is_alive() and reader.error is None
    task_id, job_id, printer, user = reader.line.rstrip("\n").split("\t")
    assert (printer, user) == (VIRTUAL, ALICE)
    task = [t for t in tasks(emu) if t["id"] == task_id][0]
    assert task["state"] == "processing" and task["jobId"] == job_id
    status = os.path.join(d, "tasks", task_id, "status")
    assert util.read_text(status) == "processing\n"
    # Held while the task is processing.
    assert emu.job(job_id)["state"] not in ("completed", "aborted")

    before = set(os.listdir(admin.p("printers", FLOOR3, "jobs")))
    assert job_id not in before
    emu.reset_requests()
    os.rename(admin.p("printers", VIRTUAL, "jobs", job_id),
              admin.p("printers", FLOOR3, "jobs", job_id))
    # The redirect answers with the new job, which Floor3's listing shows
    # at once, the listing not asked for again (a late one would lack
    # it). The name mv gave: the next test.
    added = set(os.listdir(admin.p("printers", FLOOR3, "jobs"))) - before
    floor3 = [p["id"] for p in emu.state(only=["printers"])["printers"]
              if p["displayName"] == FLOOR3][0]
    asked = [u for u in emu.call("GET", "/_emulator/requests?urls=1")[1][
        "urls"] if "/printers/%s/jobs?" % floor3 in u]
    assert len(added) == 1 and not asked, (added, asked)
    new = added.pop()
    docs = admin.p("printers", FLOOR3, "jobs", new, "documents")
    got = util.read_bytes(os.path.join(docs, os.listdir(docs)[0]))
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    util.wait_until(lambda: util.read_text(status) == "completed\n",
                    timeout=10, what="the task completed by the redirect")


def long_ttl_admin(emu, upfs_mount, workdir):
    """The admin fixture's mount, keeping listings and names 600 s: what
    shows must come from what upfs did, not from time-outs."""
    return upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                       client_id=APP),
                      options=app_options(emu, workdir, "dir_ttl=600"))


def test_a_release_whose_new_job_cannot_be_read_lists_it_after_all(
        emu, alice, workdir, upfs_mount):
    """The redirect's reply lacks the new job's documents, and its read
    with them is refused (403): the destination's listing is fetched
    again instead, and shows the new job with its document."""
    admin = long_ttl_admin(emu, upfs_mount, workdir)
    admin.expect_warning(r".")
    job_id = held_task(emu, admin, alice, workdir, "memo.pdf")["jobId"]
    jobs = admin.p("printers", FLOOR3, "jobs")
    before = set(os.listdir(jobs))
    floor3 = [p["id"] for p in emu.state(only=["printers"])["printers"]
              if p["displayName"] == FLOOR3][0]
    emu.set_faults("403:1,method=GET,route=/printers/%s/jobs/,times=1"
                   % floor3)
    os.rename(admin.p("printers", VIRTUAL, "jobs", job_id),
              os.path.join(jobs, job_id))
    assert [h["fault"] for h in emu.call("GET", "/_emulator/faults")[1][
        "history"] if h["fault"]] == ["403"]
    emu.set_faults("")
    util.wait_until(lambda: set(os.listdir(jobs)) - before, timeout=10,
                    what="the new job under the physical printer")
    [new] = set(os.listdir(jobs)) - before
    assert os.listdir(os.path.join(jobs, new, "documents"))


def test_the_name_mv_gave_a_released_job_is_forgotten(emu, alice, workdir,
                                                      upfs_mount):
    """mv V/jobs/J P/jobs/J: the kernel moved the held job's folder to
    P/jobs/J, where no job J is (the new job has its own id). The mount
    has the kernel forget that name (not from the thread that answered
    the rename: a request waiting on the folder's lock could need it).
    It showed the held job there for dir_ttl."""
    admin = long_ttl_admin(emu, upfs_mount, workdir)
    job_id = held_task(emu, admin, alice, workdir, "memo.pdf")["jobId"]
    moved = admin.p("printers", FLOOR3, "jobs", job_id)
    assert not os.path.exists(moved)
    os.rename(admin.p("printers", VIRTUAL, "jobs", job_id), moved)
    util.wait_until(lambda: not os.path.exists(moved), timeout=10,
                    what="the name mv gave to be forgotten")


def test_events_gives_one_line_a_read(emu, admin, alice, workdir):
    """Two tasks that one poll finds come back one read each, as the
    design says: a badge reader that takes a read(2) for a task (not a
    line-buffered `read`) misses none."""
    set_up(admin)
    fd = os.open(admin.p("task_definitions", "Badge", "events"), os.O_RDONLY)
    try:
        print_as(alice, workdir, "one.pdf")
        lines = [os.read(fd, 65536)]
        print_as(alice, workdir, "two.pdf")
        print_as(alice, workdir, "three.pdf")
        util.wait_until(lambda: len(tasks(emu)) == 3, timeout=10,
                        what="three tasks")
        # Checked before the third read, which would wait for a fourth
        # task if the second had given both.
        for _ in range(2):
            lines.append(os.read(fd, 65536))
            assert lines[-1].count(b"\n") == 1 and \
                lines[-1].endswith(b"\n"), lines
    finally:
        os.close(fd)
    ids = [x.decode().split("\t")[0] for x in lines]
    assert sorted(ids) == sorted(t["id"] for t in tasks(emu))


def test_a_long_read_of_events_keeps_every_line_in_order(emu, admin,
                                                          alice, workdir):
    """events keeps only the lines from the one a read is at (4 KiB back
    at most), so a reader open for months does not grow the mount: read
    on past that many, a line a read, every task's line comes once."""
    set_up(admin)
    n = 80                      # about 80 bytes a line: past 4 KiB
    fd = os.open(admin.p("task_definitions", "Badge", "events"), os.O_RDONLY)
    lines = []
    try:
        for i in range(n):
            print_as(alice, workdir, "doc%02d.pdf" % i, size=1024)
        util.wait_until(lambda: len(tasks(emu)) == n, timeout=60,
                        what="%d tasks" % n)
        while len(lines) < n:
            lines.append(os.read(fd, 65536))
    finally:
        os.close(fd)
    assert sum(len(x) for x in lines) > 4096
    assert all(x.count(b"\n") == 1 and x.endswith(b"\n") for x in lines)
    ids = [x.decode().split("\t")[0] for x in lines]
    assert sorted(ids) == sorted(t["id"] for t in tasks(emu))


def test_waiting_events_readers_leave_the_mount_free(emu, admin, alice,
                                                     workdir):
    """More readers wait on events than the mount has worker threads (16):
    the mount still answers, a reader killed while it waits goes at once,
    and the next task reaches every other. Each waiting read held a
    worker, so 16 stopped the mount until a task came."""
    set_up(admin)
    path = admin.p("task_definitions", "Badge", "events")
    emu.reset_requests()

    def waiting(n):
        # Each read asks the service once when it starts waiting.
        util.wait_until(lambda: emu.requests()["routes"].get(
            "GET /print/taskDefinitions/{id}/tasks", 0) >= n, timeout=20,
            what="%d waiting reads" % n)
    # The first to wait, answered last in a round of polls.
    cat = subprocess.Popen(["cat", path], stdout=subprocess.DEVNULL)
    waiting(1)
    readers = [EventReader(path) for _ in range(20)]
    for r in readers:
        r.start()
    waiting(21)
    # Each poll asks once for the 21 reads of one definition (every
    # 0.5 s), not once for each: 42 requests a second. Over 3 s, at most
    # 8 polls, and each read's own first ask if it came late (a slow
    # build: the count above may include polls).
    emu.reset_requests()
    start = time.monotonic()
    polls = lambda: emu.requests()["routes"].get(  # noqa: E731
        "GET /print/taskDefinitions/{id}/tasks", 0)
    util.wait_until(lambda: time.monotonic() - start >= 3 and polls(),
                    timeout=30, what="3 s of polls")
    asked, took = polls(), time.monotonic() - start
    assert asked <= took / 0.5 + 2 + 21, (asked, took)
    listed = []
    lister = threading.Thread(target=lambda: listed.append(
        os.listdir(admin.p("printers"))), daemon=True)
    lister.start()
    lister.join(util.scaled(10))
    assert listed and FLOOR3 in listed[0], "the mount did not answer"
    cat.kill()
    assert cat.wait(timeout=util.scaled(5)) == -9
    print_as(alice, workdir, "memo.pdf")
    for r in readers:
        r.join(util.scaled(30))
    assert not any(r.is_alive() for r in readers)
    assert all(r.error is None for r in readers)
    lines = {r.line for r in readers}
    assert len(lines) == 1 and lines.pop().count("\t") == 3


def waiting_reader(emu, admin):
    """Sets up pull printing; an EventReader of Badge's events, once its
    read waits (it has asked the service for tasks)."""
    set_up(admin)
    emu.reset_requests()
    reader = EventReader(admin.p("task_definitions", "Badge", "events"))
    reader.start()
    util.wait_until(lambda: emu.requests()["routes"].get(
        "GET /print/taskDefinitions/{id}/tasks", 0) >= 1, timeout=20,
        what="the read waiting")
    return reader


def test_a_waiting_events_read_outlasts_service_errors(emu, admin, alice,
                                                       workdir):
    """500s while a read waits do not end it (a badge reader's loop would
    stop): it waits on, and gets the next task."""
    admin.expect_warning(r".")
    reader = waiting_reader(emu, admin)
    emu.set_faults("500:1,method=GET,route=/tasks$,times=6")
    util.wait_until(lambda: not reader.is_alive() or len([
        h for h in emu.call("GET", "/_emulator/faults")[1]["history"]
        if h["fault"] == "500"]) >= 6, timeout=60, what="the six 500s")
    emu.set_faults("")
    assert reader.is_alive(), "the read ended: %r %r" % (reader.line,
                                                        reader.error)
    print_as(alice, workdir, "after.pdf")
    reader.join(util.scaled(30))
    assert not reader.is_alive() and reader.error is None
    assert reader.line.count("\t") == 3, reader.line


def test_an_open_of_events_outlasts_a_passing_service_error(emu, admin,
                                                           alice, workdir):
    """Two 500s from the task listing when events is opened (a badge
    reader's loop opens it again for every line): the open tries again
    and succeeds, where it failed with EIO, and the read gets the next
    task."""
    admin.expect_warning(r".")
    set_up(admin)
    emu.set_faults("500:1,method=GET,route=/tasks$,times=2")
    reader = EventReader(admin.p("task_definitions", "Badge", "events"))
    assert len([h for h in emu.call("GET", "/_emulator/faults")[1][
        "history"] if h["fault"] == "500"]) == 2
    reader.start()
    print_as(alice, workdir, "after.pdf")
    reader.join(util.scaled(30))
    assert not reader.is_alive() and reader.error is None
    assert reader.line.count("\t") == 3, reader.line


def test_an_event_names_the_user_when_the_app_may_not_read_the_job(
        emu, admin, alice, workdir):
    """The app may redirect jobs without a PrintJob read role (reference
    §3.0): when its GET of the job is refused, the signed-in
    administrator's is asked, and the line still names who printed."""
    reader = waiting_reader(emu, admin)
    virtual = [p["id"] for p in emu.state(only=["printers"])["printers"]
               if p["displayName"] == VIRTUAL][0]
    emu.set_faults("403:1,method=GET,route=/printers/%s/jobs/,times=1"
                   % virtual)
    print_as(alice, workdir, "named.pdf")
    reader.join(util.scaled(30))
    assert not reader.is_alive() and reader.error is None
    assert [h["fault"] for h in emu.call("GET", "/_emulator/faults")[1][
        "history"] if h["fault"]] == ["403"]
    assert reader.line.rstrip("\n").split("\t")[3] == ALICE, reader.line


def test_a_waiting_events_read_ends_with_the_mount(emu, admin):
    """A stop of the daemon (SIGTERM: systemctl stop, shutdown) answers a
    read still waiting for a task with ENOTCONN, and the daemon exits
    cleanly, not held by the read."""
    reader = waiting_reader(emu, admin)
    admin.proc.terminate()
    assert admin.wait_exit() == 0, admin.log()
    reader.join(util.scaled(10))
    assert not reader.is_alive()
    assert isinstance(reader.error, OSError) and \
        reader.error.errno == errno.ENOTCONN, reader.error


@util.with_one_request_faults
def test_a_redirect_that_meets_a_fault(emu, admin, alice, workdir, fault):
    """mv of a held job is one POST (redirect). Its reply lost or a 5xx:
    mv returns 0 exactly when the service moved the job (sent again, the
    redirect would be refused: no task is left), else a clean errno with
    the job still held."""
    admin.expect_warning(r".")
    job_id = held_task(emu, admin, alice, workdir, "memo.pdf")["jobId"]
    floor3 = [p["id"] for p in emu.state(only=["printers"])["printers"]
              if p["displayName"] == FLOOR3][0]
    before = len(emu.jobs(printerId=floor3))
    emu.set_faults("%s,method=POST,route=/redirect$,times=2" % fault)
    try:
        os.rename(admin.p("printers", VIRTUAL, "jobs", job_id),
                  admin.p("printers", FLOOR3, "jobs", job_id))
        rc = 0
    except OSError as exc:
        rc = exc.errno
    emu.set_faults("")
    # The redirect completes the task and makes one job on FLOOR3.
    moved = tasks(emu)[0]["state"] == "completed"
    assert len(emu.jobs(printerId=floor3)) == before + moved
    if rc == 0:
        assert moved, "mv returned 0 but the job was not redirected"
    else:
        assert rc in (errno.EIO, errno.EAGAIN, errno.ECONNRESET,
                      errno.EPROTO), errno.errorcode[rc]
        assert not moved, "mv failed (%s) but the service redirected the " \
            "job" % errno.errorcode[rc]
        assert tasks(emu)[0]["state"] == "processing"


def test_a_lost_redirect_is_known_done_when_the_app_may_not_read_jobs(
        emu, upfs_mount, alice, workdir):
    """The app holds what pull printing takes (PrintJob.Manage.All to
    redirect, PrintTaskDefinition.ReadWrite.All) and no job read role
    (reference §3.0 #11, #13, #18). A redirect whose reply is lost is
    told done by the signed-in administrator's read of the job, as the
    app's is refused: mv returns 0. It failed, the job printed, and a
    second mv was refused as no task was left."""
    status, out = emu.call("POST", "/_emulator/auth", {"appRoles": [
        "PrintJob.Manage.All", "PrintTaskDefinition.ReadWrite.All"]})
    assert status == 200, out
    admin = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                        client_id=APP),
                       options=app_options(emu, workdir, "dir_ttl=1",
                                           "status_ttl=1"))
    admin.expect_warning(r".")
    job_id = held_task(emu, admin, alice, workdir, "memo.pdf")["jobId"]
    virtual = [p["id"] for p in emu.state(only=["printers"])["printers"]
               if p["displayName"] == VIRTUAL][0]
    status, _ = emu.call("GET", "/v1.0/print/printers/%s/jobs/%s"
                         % (virtual, job_id),
                         headers={"Authorization": "Bearer " + token(
                             emu, kind="app", roles=["PrintJob.Manage.All"])})
    assert status == 403
    emu.set_faults("drop:1,method=POST,route=/redirect$,times=2")
    os.rename(admin.p("printers", VIRTUAL, "jobs", job_id),
              admin.p("printers", FLOOR3, "jobs", job_id))
    emu.set_faults("")
    assert tasks(emu)[0]["state"] == "completed"
    assert "but the service redirected the job: done" in admin.log()


def pull_objects(emu):
    out = emu.call("GET", "/_emulator/tasks")[1]
    return out["definitions"], out["triggers"]


def pull_op(op, emu, admin):
    """(fault spec route, the call, whether the service holds its change,
    what the mount shows once it agrees)."""
    defs = admin.p("task_definitions")
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    if op in ("trigger-create", "trigger-delete"):
        os.mkdir(os.path.join(defs, "Badge"))
    if op == "trigger-delete":
        open(os.path.join(triggers, "Badge"), "w").close()
    if op == "definition-delete":
        os.mkdir(os.path.join(defs, "Old"))

    def named(name):
        return [d for d in pull_objects(emu)[0] if d["displayName"] == name]

    if op == "definition-create":
        return ("method=POST,route=/print/taskDefinitions$",
                lambda: util.call_errno(lambda: os.mkdir(
                    os.path.join(defs, "Kiosk"))),
                lambda: len(named("Kiosk")) == 1,
                lambda done: ("Kiosk" in os.listdir(defs)) == done)
    if op == "definition-delete":
        return ("method=DELETE,route=/print/taskDefinitions/",
                lambda: util.call_errno(lambda: os.rmdir(
                    os.path.join(defs, "Old"))),
                lambda: named("Old") == [],
                lambda done: ("Old" in os.listdir(defs)) != done)
    badge = named("Badge")[0]["id"]
    if op == "trigger-create":
        return ("method=POST,route=/taskTriggers$",
                lambda: util.call_errno(lambda: open(
                    os.path.join(triggers, "Badge"), "w").close()),
                lambda: [t["definitionId"] for t in pull_objects(emu)[1]]
                == [badge],
                lambda done: (os.listdir(triggers) == ["Badge"]) == done)
    assert op == "trigger-delete"
    return ("method=DELETE,route=/taskTriggers/",
            lambda: util.call_errno(lambda: os.unlink(
                os.path.join(triggers, "Badge"))),
            lambda: pull_objects(emu)[1] == [],
            lambda done: (os.listdir(triggers) == []) == done)


@pytest.mark.parametrize("op", ["definition-create", "definition-delete",
                                "trigger-create", "trigger-delete"])
@util.with_one_request_faults
def test_a_pull_request_meets_a_fault(emu, admin, op, fault):
    """Sent again, a lost create would make a second definition or be
    refused (one trigger a printer): each call returns 0 exactly when
    the service holds its change."""
    admin.expect_warning(r".")
    route, call, held, shown = pull_op(op, emu, admin)
    util.check_change_under_fault(emu, admin, "%s,%s,times=2" % (fault, route),
                                  op, call, held, shown)
    if op == "definition-create":
        assert len([d for d in pull_objects(emu)[0]
                    if d["displayName"] == "Kiosk"]) <= 1


@pytest.mark.parametrize("op", ["definition-create", "definition-delete",
                                "trigger-create", "trigger-delete"])
def test_a_pull_request_the_service_refuses_is_eacces(emu, admin, op):
    """A 403 (the signed-in user lost the role meanwhile, say): EACCES,
    nothing changed, and the reason in .upfs/status."""
    admin.expect_warning(r".")
    util.check_refusal(emu, admin, op, pull_op(op, emu, admin))


@pytest.mark.parametrize("what", ["definition", "trigger"])
def test_removing_what_the_service_already_removed(emu, admin, what):
    """A definition or trigger deleted at the service (by another admin)
    while the mount still lists it: rmdir or rm says it is gone (ENOENT,
    the service's 404), and the name leaves the folder."""
    defs = admin.p("task_definitions")
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    os.mkdir(os.path.join(defs, "Old"))
    if what == "trigger":
        open(os.path.join(triggers, "Old"), "w").close()
    definition = [d for d in pull_objects(emu)[0]
                  if d["displayName"] == "Old"][0]
    app = emu.call("POST", "/_emulator/token",
                   {"kind": "app", "client_id": APP})[1]["access_token"]
    if what == "trigger":
        trigger = pull_objects(emu)[1][0]
        path = "/v1.0/print/printers/%s/taskTriggers/%s" % (
            trigger["printerId"], trigger["id"])
        token = emu.call("POST", "/_emulator/token",
                         {"upn": "admin@contoso.com",
                          "client_id": APP})[1]["access_token"]
    else:
        path = "/v1.0/print/taskDefinitions/" + definition["id"]
        token = app
    status, out = emu.call("DELETE", path,
                           headers={"Authorization": "Bearer " + token})
    assert status == 204, (status, out)
    admin.expect_warning(r"404|No such file")
    folder, name = (triggers, "Old") if what == "trigger" else (defs, "Old")
    remove = os.unlink if what == "trigger" else os.rmdir
    util.expect_errno(lambda: remove(os.path.join(folder, name)),
                      errno.ENOENT)
    util.wait_until(lambda: name not in os.listdir(folder), timeout=10,
                    what="the removed name to leave the folder")


@util.with_one_request_faults
def test_an_abort_meets_a_fault(emu, admin, alice, workdir, fault):
    """A held job aborted through its ctl (the app identity's call): sent
    again after it was carried out, it would be refused (the job is
    final), so close() returns 0 exactly when the job is aborted."""
    admin.expect_warning(r".")
    t = held_task(emu, admin, alice, workdir, "abort.pdf")
    folder = admin.p("printers", VIRTUAL, "jobs", t["jobId"])
    util.check_change_under_fault(
        emu, admin, "%s,method=POST,route=/abort$,times=2" % fault, "abort",
        lambda: util.close_errno(os.path.join(folder, "ctl"),
                                 "abort no badge\n"),
        lambda: emu.job(t["jobId"])["state"] == "aborted",
        lambda done: util.read_text(os.path.join(folder, "status"))
        .startswith("aborted") == done)


@pytest.mark.parametrize("where", ["definition", "job"])
@util.with_one_request_faults
def test_a_task_status_write_meets_a_fault(emu, admin, alice, workdir,
                                           where, fault):
    """Writing "completed" to a task's status is one PATCH; sent again
    after it was carried out, it would be refused (the task finished):
    close() returns 0 exactly when the task completed."""
    admin.expect_warning(r".")
    t = held_task(emu, admin, alice, workdir, "note.pdf")
    if where == "definition":
        folder = admin.p("task_definitions", "Badge", "tasks", t["id"])
    else:
        folder = admin.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks",
                         t["id"])
    status = os.path.join(folder, "status")
    assert util.read_text(status) == "processing\n"
    util.check_change_under_fault(
        emu, admin, "%s,method=PATCH,route=/tasks/,times=2" % fault,
        "the status write",
        lambda: util.close_errno(status, "completed\n"),
        lambda: [x["state"] for x in tasks(emu)] == ["completed"],
        lambda done: (util.read_text(status) == "completed\n") == done)


def test_upfsctl_release(emu, admin, alice, workdir):
    job_id = held_task(emu, admin, alice, workdir, "contract.pdf")["jobId"]
    home = signin.Home(workdir, emu, profile="release")
    emu.reset_writes()
    proc = home.upfsctl("release", job_id, "--to", FLOOR3, "--mount",
                        admin.p())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith(admin.p("printers", FLOOR3, "jobs") + "/")
    assert os.path.isdir(out)
    assert tasks(emu)[0]["state"] == "completed"
    # The redirect completed the task (reference §3.2): nothing else sent.
    assert [(w["method"], w["path"].rsplit("/", 1)[1])
            for w in emu.writes()] == [("POST", "redirect")]


def test_upfsctl_release_names_the_redirected_job(emu, admin, alice,
                                                  workdir):
    """Another job that reaches the printer after release listed its
    jobs/ is new there too: the path printed is the job the redirect made
    (its redirectedFrom), not the first new name."""
    job_id = held_task(emu, admin, alice, workdir, "deed.pdf")["jobId"]
    floor3 = [p["id"] for p in emu.state(only=["printers"])["printers"]
              if p["displayName"] == FLOOR3][0]
    home = signin.Home(workdir, emu, profile="release")
    # The listing release starts from is made, then held back 2 s: the
    # other job comes in between, before the redirect's.
    emu.set_faults("slow:1:2,method=GET,route=/print/printers/%s/jobs$,"
                   "times=1" % floor3)
    emu.reset_requests()
    proc = subprocess.Popen(
        [signin.upfsctl_binary(), "release", job_id, "--to", FLOOR3,
         "--mount", admin.p()], env=home.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        util.wait_until(lambda: emu.requests()["routes"].get(
            "GET /print/printers/{id}/jobs"), timeout=10,
            what="release listing the printer's jobs")
        emu.add_job(printerId=floor3, upn="bob@contoso.com",
                    state="processing", documentName="other.pdf")
        out, err = proc.communicate(timeout=util.scaled(60))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    emu.set_faults("")
    assert proc.returncode == 0, err
    made = util.read_json(os.path.join(out.strip(), "job.json"))
    assert made["redirectedFrom"].endswith("/jobs/" + job_id), made


def test_upfsctl_release_from_a_named_holder(emu, admin, alice, workdir):
    job_id = held_task(emu, admin, alice, workdir, "lease.pdf")["jobId"]
    home = signin.Home(workdir, emu, profile="release")
    # A printer that does not hold the job: refused, nothing moved.
    emu.reset_writes()
    proc = home.upfsctl("release", job_id, "--to", FLOOR3, "--from",
                        "Lab Printer", "--mount", admin.p())
    assert proc.returncode != 0
    assert "no job %s under" % job_id in proc.stderr, proc.stderr
    assert emu.writes() == []
    proc = home.upfsctl("release", job_id, "--to", FLOOR3, "--from",
                        VIRTUAL, "--mount", admin.p())
    assert proc.returncode == 0, proc.stderr
    assert tasks(emu)[0]["state"] == "completed"


def plain_tree(root, jobs):
    """A directory shaped like a mount's printers/: jobs maps a printer to
    {job: task status or None (a job without tasks)}."""
    for printer, held in jobs.items():
        os.makedirs(os.path.join(root, "printers", printer, "jobs"))
        for job, state in held.items():
            tasks_dir = os.path.join(root, "printers", printer, "jobs", job,
                                     "tasks")
            os.makedirs(tasks_dir)
            if state:
                os.makedirs(os.path.join(tasks_dir, "t-" + printer))
                with open(os.path.join(tasks_dir, "t-" + printer,
                                       "status"), "w") as fh:
                    fh.write(state + "\n")


def test_upfsctl_release_never_guesses_between_printers(workdir):
    """Job ids are unique only within a printer (reference §3.2): release
    takes the printer whose job has a task processing, and refuses when
    two could hold it. Run on a plain tree of the mount's shape, as the
    emulator numbers jobs tenant-wide."""
    home = signin.Home(workdir, profile="release")
    root = os.path.join(workdir, "tree")
    plain_tree(root, {"Virtual": {"7": "processing"}, "Lab": {"7": None},
                      "Floor": {}})
    proc = home.upfsctl("release", "7", "--to", "Floor", "--mount", root)
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(os.path.join(root, "printers", "Virtual", "jobs")) \
        == []
    assert os.listdir(os.path.join(root, "printers", "Lab", "jobs")) == \
        ["7"]

    root = os.path.join(workdir, "tree2")
    plain_tree(root, {"V1": {"7": "processing"}, "V2": {"7": "processing"},
                      "Floor": {}})
    proc = home.upfsctl("release", "7", "--to", "Floor", "--mount", root)
    assert proc.returncode != 0
    assert "more than one printer" in proc.stderr, proc.stderr
    assert os.listdir(os.path.join(root, "printers", "Floor", "jobs")) == []

    root = os.path.join(workdir, "tree3")
    plain_tree(root, {"V1": {"7": None}, "V2": {"7": "completed"},
                      "Floor": {}})
    proc = home.upfsctl("release", "7", "--to", "Floor", "--mount", root)
    assert proc.returncode != 0
    assert "more than one printer" in proc.stderr, proc.stderr
    # Its own printer as the destination (the rename would be a no-op
    # and the task completed where it is): refused.
    for to, frm in (("V2", "V2"), ("V2/", "V2"), ("V2", "V2//")):
        proc = home.upfsctl("release", "7", "--to", to, "--from", frm,
                            "--mount", root)
        assert proc.returncode != 0
        assert "same printer" in proc.stderr, proc.stderr
    # A path is not a printer's name.
    for to, frm in (("../V2", "V1"), ("Floor", "./V1"), ("/", "V1"),
                    ("Floor", "..")):
        proc = home.upfsctl("release", "7", "--to", to, "--from", frm,
                            "--mount", root)
        assert proc.returncode != 0
        assert "not a printer's folder name" in proc.stderr, proc.stderr
    assert sorted(os.listdir(os.path.join(root, "printers", "V2",
                                          "jobs"))) == ["7"]
    proc = home.upfsctl("release", "7", "--to", "Floor/", "--from", "V1/",
                        "--mount", root)
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(os.path.join(root, "printers", "V1", "jobs")) == []
    assert os.listdir(os.path.join(root, "printers", "Floor", "jobs")) == \
        ["7"]


def test_abort_through_the_task_status(emu, admin, alice, workdir):
    t = held_task(emu, admin, alice, workdir, "secret.pdf")
    status = admin.p("task_definitions", "Badge", "tasks", t["id"],
                     "status")
    with open(status, "w") as fh:
        fh.write("aborted no badge within an hour\n")
    assert [x for x in tasks(emu) if x["id"] == t["id"]][0]["state"] == \
        "aborted"
    util.wait_until(lambda: emu.job(t["jobId"])["state"] == "aborted",
                    timeout=10, what="the job aborted with its task")


def test_abort_a_held_job_through_its_ctl(emu, admin, alice, workdir):
    """The app aborts a held job (reference §3.2: app-only, with a
    processing task of its trigger) with a reason."""
    job_id = held_task(emu, admin, alice, workdir, "draft.pdf")["jobId"]
    emu.reset_writes()
    with open(admin.p("printers", VIRTUAL, "jobs", job_id, "ctl"), "w") as fh:
        fh.write("abort out of paper\n")
    assert emu.job(job_id)["state"] == "aborted"
    pid = [p for p in emu.state()["printers"]
           if p["displayName"] == VIRTUAL][0]["id"]
    assert [(w["method"], w["path"], w["body"]) for w in emu.writes()] == [
        ("POST", "/v1.0/print/printers/%s/jobs/%s/abort" % (pid, job_id),
         {"reason": "out of paper"})]


def test_completing_the_task_lets_the_job_print_where_it_is(emu, admin,
                                                           alice, workdir):
    t = held_task(emu, admin, alice, workdir, "memo.pdf")
    util.run(["sh", "-c", "echo completed > status"],
             cwd=admin.p("task_definitions", "Badge", "tasks", t["id"]))
    util.wait_until(lambda: emu.job(t["jobId"])["state"] == "completed",
                    timeout=10, what="the job completed on its printer")


def test_refusals(emu, admin, alice, workdir, upfs_mount):
    # The user's mount has no application identity: said clearly.
    alice.expect_warning(r"creating the task definition refused: .*"
                         r"application identity")
    util.expect_errno(lambda: os.mkdir(alice.p("task_definitions", "X")),
                      errno.EACCES)
    # A job with no processing task cannot be redirected.
    plain = [j for j in emu.jobs() if j["state"] == "pending" and
             j["printerId"] != [p for p in emu.state()["printers"]
                                if p["displayName"] == VIRTUAL][0]["id"]]
    assert plain
    job = plain[0]
    src = [p for p in emu.state()["printers"]
           if p["id"] == job["printerId"]][0]["displayName"]
    if src == "Lab Printer":
        pytest.skip("the demo's pending job is on a printer with a "
                    "shared name")
    admin.expect_warning(r"redirecting the job refused: .*403")
    util.expect_errno(lambda: os.rename(
        admin.p("printers", src, "jobs", job["id"]),
        admin.p("printers", FLOOR3, "jobs", job["id"])), errno.EACCES)
    # A task status takes completed or aborted only.
    t = held_task(emu, admin, alice, workdir, "x.pdf")
    admin.expect_warning(r"status of task .* refused: .*completed or "
                         r"aborted")
    path = admin.p("task_definitions", "Badge", "tasks", t["id"], "status")
    fh = open(path, "w")
    fh.write("paused\n")
    util.expect_errno(fh.close, errno.EINVAL)
    assert tasks(emu)[0]["state"] == "processing"
    # A second trigger on the same printer is refused (one per printer).
    os.mkdir(admin.p("task_definitions", "Other"))
    admin.expect_warning(r"creating the task trigger refused")
    util.expect_errno(lambda: open(admin.p(
        "printers", VIRTUAL, "task_triggers", "Other"), "w"), errno.EEXIST)
    # Definitions of other apps are not shown.
    other = token(emu, kind="app", client_id="another-app")
    emu.call("POST", "/v1.0/print/taskDefinitions",
             {"displayName": "Theirs"},
             headers={"Authorization": "Bearer " + other})
    assert sorted(os.listdir(admin.p("task_definitions"))) == \
        ["Badge", "Other"]


def test_the_app_secret_from_a_file(emu, upfs_mount, workdir):
    """client_secret_file=: the app's secret from a private file, so it is
    in neither the daemon's argv nor /etc/fstab. A file others may read,
    or both forms at once, are refused; client_secret= is taken with a
    warning."""
    secret = os.path.join(workdir, "app.secret")
    with open(secret, "w") as fh:
        fh.write(SECRET + "\n")
    os.chmod(secret, 0o600)
    opts = ["authority=" + emu.authority, "client_id=" + APP]
    admin = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                        client_id=APP),
                       options=opts + ["client_secret_file=" + secret])
    os.mkdir(admin.p("task_definitions", "FromFile"))
    assert [d["displayName"] for d in pull_objects(emu)[0]] == ["FromFile"]
    with open("/proc/%d/cmdline" % admin.proc.pid, "rb") as fh:
        assert SECRET.encode() not in fh.read()
    os.chmod(secret, 0o644)
    for extra in (["client_secret_file=" + secret],
                  ["client_secret_file=" + secret,
                   "client_secret=" + SECRET]):
        proc = util.run([util.upfs_binary(), "test",
                         os.path.join(workdir, "no-mount"), "-f", "-o",
                         ",".join(["endpoint=" + emu.endpoint] + opts +
                                  extra)], check=False, timeout=20)
        assert proc.returncode != 0, proc.stderr
        assert ("chmod 600 it" in proc.stderr or
                "not both" in proc.stderr), proc.stderr
        assert SECRET not in proc.stderr
    # On the command line it is still taken, with a warning.
    on_argv = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                          client_id=APP),
                         options=opts + ["client_secret=" + SECRET])
    on_argv.expect_warning(r"^upfs: warning: client_secret= on the command "
                           r"line can be read by every local user")
    os.mkdir(on_argv.p("task_definitions", "FromArgv"))
    assert "give client_secret_file=PATH" in on_argv.log()
    assert sorted(d["displayName"] for d in pull_objects(emu)[0]) == \
        ["FromArgv", "FromFile"]


def test_mkdir_of_a_definition_made_elsewhere_meanwhile_is_eexist(
        emu, admin, upfs_mount, workdir):
    """A definition made elsewhere (another mount, the portal) after this
    mount listed task_definitions/, which it keeps for an hour: mkdir of
    its name fails with EEXIST and makes nothing. It made a second of the
    name, which the folder then shows by neither name, so mkdir failed
    with ENOENT, and each try made one more."""
    other = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                        client_id=APP),
                       options=app_options(emu, workdir, "dir_ttl=3600",
                                           "status_ttl=3600"))
    other.expect_warning(r"one of that name exists")
    defs = other.p("task_definitions")
    assert os.listdir(defs) == []
    os.mkdir(admin.p("task_definitions", "Badge"))
    for _ in range(2):
        util.expect_errno(lambda: os.mkdir(os.path.join(defs, "Badge")),
                          errno.EEXIST)
    assert [d["displayName"] for d in pull_objects(emu)[0]] == ["Badge"]


def test_touch_of_a_trigger_made_elsewhere_meanwhile_is_done(
        emu, admin, upfs_mount, workdir):
    """Another admin made the trigger (of the same definition) after this
    mount listed task_triggers/, which it keeps for an hour: touch of it
    returns 0, as what it asks for is there, and sends no second create.
    It failed with EEXIST, the service refusing a second trigger."""
    other = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                        client_id=APP),
                       options=app_options(emu, workdir, "dir_ttl=3600",
                                           "status_ttl=3600"))
    triggers = other.p("printers", VIRTUAL, "task_triggers")
    assert os.listdir(triggers) == []
    set_up(admin)
    emu.reset_requests()
    open(os.path.join(triggers, "Badge"), "w").close()
    assert len(pull_objects(emu)[1]) == 1
    assert "POST /print/printers/{id}/taskTriggers" not in \
        emu.requests()["routes"]
    assert os.listdir(triggers) == ["Badge"]


def test_rm_trigger_and_rmdir_definition(emu, admin):
    set_up(admin)
    os.unlink(admin.p("printers", VIRTUAL, "task_triggers", "Badge"))
    assert os.listdir(admin.p("printers", VIRTUAL, "task_triggers")) == []
    os.rmdir(admin.p("task_definitions", "Badge"))
    assert os.listdir(admin.p("task_definitions")) == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_demo_script_runs(workdir):
    """tools/pull-print-demo runs the whole flow against its own emulator
    and says so on its last line."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, UPFS_BUILD_DIR=util.build_dir(),
               UPFS_DEMO_DIR=workdir)
    proc = subprocess.run([os.path.join(root, "tools", "pull-print-demo")],
                          capture_output=True, text=True, env=env,
                          timeout=util.scaled(120))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1].startswith(
        "released: job"), proc.stdout


@pytest.mark.parametrize("details", [["releaseWait"], []])
def test_a_held_job_whose_start_reply_was_lost_stays_held(emu, admin, alice,
                                                          workdir, details):
    """The start's reply is lost on a printer with a trigger: the job was
    started and is held for release (paused, releaseWait). A start sent
    again is refused (400); asked for its state, upfs must take the held
    job for started — not fail the close() with EINVAL and cancel it.
    The held state is not documented (reference §13): a service may show
    a held job paused with no details, as a job not yet started looks;
    the refused second start says the first was taken."""
    emu.call("POST", "/_emulator", {"heldDetails": details})
    set_up(admin)
    emu.set_faults("drop:1,method=POST,route=/start$,times=1")
    print_as(alice, workdir, "held.pdf")
    queue = alice.p("shares", SECURE, "queue")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the lost start to be looked into")
    [task] = [t for t in tasks(emu) if t["state"] == "processing"]
    job = emu.job(task["jobId"])
    assert job["state"] == "paused" and job["details"] == details, job
    routes = emu.requests()["routes"]
    assert not any(r.endswith("/cancel") for r in routes), routes
    if not details:
        assert "refused a second start" in alice.log()


def job_task_gets(emu):
    urls = emu.call("GET", "/_emulator/requests?urls=1")[1]["urls"]
    return sum(v["count"] for u, v in urls.items()
               if "/jobs/" in u and "expand=tasks" in u)


def test_a_jobs_tasks_folder(emu, admin, alice, workdir):
    """printers/<p>/jobs/<j>/tasks/ (design.md §2) lists the tasks the job
    names ($expand=tasks on its GET: not contained, reference §3.2);
    status and task.json read from the job, and writing completed to the
    status completes the task under its definition, which the job does
    not name."""
    t = held_task(emu, admin, alice, workdir, "held.pdf")
    job = admin.p("printers", VIRTUAL, "jobs", t["jobId"])
    emu.reset_requests()
    assert sorted(os.listdir(job)) == ["ctl", "documents", "job.json",
                                       "status", "tasks"]
    assert os.listdir(os.path.join(job, "tasks")) == [t["id"]]
    task = os.path.join(job, "tasks", t["id"])
    assert sorted(os.listdir(task)) == ["status", "task.json"]
    assert util.read_text(os.path.join(task, "status")) == "processing\n"
    body = util.read_json(os.path.join(task, "task.json"))
    assert body["id"] == t["id"]
    assert body["parentUrl"].endswith("/jobs/%s" % t["jobId"])
    assert body["status"]["state"] == "processing"
    assert os.stat(os.path.join(task, "status")).st_mode & 0o200
    assert util.xattr(task, "id") == t["id"]
    # With the application's identity the definition's task listing
    # answers, shared by every job: the job itself is not asked.
    assert job_task_gets(emu) == 0
    for other in os.listdir(admin.p("printers", VIRTUAL, "jobs")):
        os.listdir(admin.p("printers", VIRTUAL, "jobs", other, "tasks"))
    assert job_task_gets(emu) == 0

    emu.reset_writes()
    with open(os.path.join(task, "status"), "w") as fh:
        fh.write("completed badge at the door\n")
    assert [(w["method"], w["path"].rsplit("/tasks/", 1)[1], w["body"])
            for w in emu.writes()] == [
        ("PATCH", t["id"], {"status": {"state": "completed",
                                       "description":
                                           "badge at the door"}})]
    assert [x for x in tasks(emu) if x["id"] == t["id"]][0]["state"] == \
        "completed"
    assert util.read_text(os.path.join(task, "status")) == "completed\n"
    util.wait_until(lambda: emu.job(t["jobId"])["state"] == "completed",
                    timeout=10, what="the released job completed")


def test_jobs_of_a_printer_without_a_trigger_are_not_asked_for_tasks(
        emu, admin):
    """Only a trigger makes tasks (reference §3.6): a walk through the
    jobs of printers without one costs no request per job."""
    jobs = admin.p("printers", FLOOR3, "jobs")
    names = os.listdir(jobs)
    assert names, "the demo tenant has jobs on %s" % FLOOR3
    emu.reset_requests()
    for name in names:
        assert os.listdir(os.path.join(jobs, name, "tasks")) == []
    assert job_task_gets(emu) == 0


def test_a_trigger_of_another_application(emu, admin, alice, workdir):
    """The virtual printer's trigger names another application's
    definition, which this one cannot read (reference §3.6): the held
    job's task is shown from the job itself, and that definition's tasks
    are never asked for."""
    other_app = token(emu, kind="app", client_id="another-app")
    other_admin = token(emu, upn="admin@contoso.com",
                        client_id="another-app")
    theirs = emu.call("POST", "/v1.0/print/taskDefinitions",
                      {"displayName": "Theirs",
                       "createdBy": {"displayName": "them"}},
                      headers={"Authorization": "Bearer " + other_app})[1]
    pid = [p for p in emu.state()["printers"]
           if p["displayName"] == VIRTUAL][0]["id"]
    status, _ = emu.call(
        "POST", "/v1.0/print/printers/%s/taskTriggers" % pid,
        {"event": "jobStarted", "definition@odata.bind":
         "%s/print/taskDefinitions/%s" % (emu.endpoint, theirs["id"])},
        headers={"Authorization": "Bearer " + other_admin})
    assert status == 201
    os.mkdir(admin.p("task_definitions", "Badge"))     # ours, no trigger
    print_as(alice, workdir, "theirs.pdf")
    util.wait_until(lambda: tasks(emu), timeout=10, what="a task")
    t = tasks(emu)[0]
    emu.reset_requests()
    tasks_dir = admin.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks")
    assert os.listdir(tasks_dir) == [t["id"]]
    urls = emu.call("GET", "/_emulator/requests?urls=1")[1]["urls"]
    assert not [u for u in urls if theirs["id"] in u], urls


def test_a_failed_task_listing_is_no_empty_tasks_folder(emu, admin, alice,
                                                        workdir):
    """A definition's task listing that fails (a 500, not a refusal)
    fails the job's tasks/ listing with a clean errno -- never an empty
    folder kept as current -- and once the service answers, the task
    shows."""
    t = held_task(emu, admin, alice, workdir, "flaky.pdf")
    admin.expect_warning(r"500|generalException")
    tasks_dir = admin.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks")
    emu.set_faults("500:1,method=GET,route=/tasks$")
    try:
        assert listing_errno(tasks_dir) in (errno.EIO, errno.EAGAIN)
        assert listing_errno(tasks_dir) in (errno.EIO, errno.EAGAIN)
    finally:
        emu.set_faults("")
    util.wait_until(lambda: listing_errno(tasks_dir) is None and
                    os.listdir(tasks_dir) == [t["id"]], timeout=10,
                    what="the task once the service answers")


def listing_errno(path):
    try:
        os.listdir(path)
    except OSError as exc:
        return exc.errno
    return None


def refused(mount, path, text, pattern):
    """Writes text to path; the close()'s errno, the refusal logged."""
    mount.expect_warning(pattern)
    err = util.close_errno(path, text)
    assert re.search(pattern, mount.log()), mount.log()[-2000:]
    return err


def test_a_held_job_shows_its_task_when_no_trigger_is_listed(emu, admin,
                                                             alice,
                                                             workdir):
    """A held job (releaseWait) names its task even when its printer
    lists no trigger: one deleted since, or the service's listing of
    none while one existed (reference §11). The job is asked for its
    tasks because it is held."""
    t = held_task(emu, admin, alice, workdir, "orphan.pdf")
    os.unlink(admin.p("printers", VIRTUAL, "task_triggers", "Badge"))
    assert os.listdir(admin.p("printers", VIRTUAL, "task_triggers")) == []
    assert emu.job(t["jobId"])["details"] == ["releaseWait"]
    tasks_dir = admin.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks")
    util.wait_until(lambda: os.listdir(tasks_dir) == [t["id"]], timeout=10,
                    what="the held job's task")
    status = os.path.join(tasks_dir, t["id"], "status")
    with open(status, "w") as fh:
        fh.write("aborted the trigger is gone\n")
    assert [x for x in tasks(emu) if x["id"] == t["id"]][0]["state"] == \
        "aborted"


def test_a_task_status_write_passes_a_failing_definition_without_it(
        emu, admin, alice, workdir):
    """Without a trigger to name its definition, a job's task status write
    tries the application's definitions in turn. One that is not the
    task's fails with a reset: the next, the task's own, takes the write,
    and the write returns 0. It failed, the task left processing."""
    os.mkdir(admin.p("task_definitions", "Other"))
    t = held_task(emu, admin, alice, workdir, "passed.pdf")
    os.unlink(admin.p("printers", VIRTUAL, "task_triggers", "Badge"))
    [other] = [d["id"] for d in pull_objects(emu)[0]
               if d["displayName"] == "Other"]
    tasks_dir = admin.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks")
    util.wait_until(lambda: os.listdir(tasks_dir) == [t["id"]], timeout=10,
                    what="the held job's task")
    admin.expect_warning(r".")
    emu.set_faults("reset:1,method=PATCH,route=/taskDefinitions/%s/" % other)
    with open(os.path.join(tasks_dir, t["id"], "status"), "w") as fh:
        fh.write("completed\n")
    assert [h for h in emu.call("GET", "/_emulator/faults")[1]["history"]
            if h["fault"]], "the other definition was not tried first"
    emu.set_faults("")
    assert [x for x in tasks(emu) if x["id"] == t["id"]][0]["state"] == \
        "completed"


def test_a_jobs_task_status_refusals(emu, admin, alice, workdir,
                                     upfs_mount):
    t = held_task(emu, admin, alice, workdir, "x.pdf")
    status = admin.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks",
                     t["id"], "status")
    # Only completed or aborted, and nothing is sent otherwise.
    emu.reset_writes()
    assert refused(admin, status, "paused\n",
                   r"status of task .* refused: .*completed or aborted") \
        == errno.EINVAL
    assert emu.writes() == []
    # The service refuses: its reason comes back, the task unchanged.
    emu.set_faults("403:1,method=PATCH,route=/tasks/,times=1")
    assert refused(admin, status, "completed\n",
                   r"status of task .* refused: .*403") == errno.EACCES
    assert tasks(emu)[0]["state"] == "processing"
    # A mount without the application identity cannot PATCH a task.
    admin_only = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                             client_id=APP))
    path = admin_only.p("printers", VIRTUAL, "jobs", t["jobId"], "tasks",
                        t["id"], "status")
    assert util.read_text(path) == "processing\n"
    assert refused(admin_only, path, "completed\n",
                   r"status of task .* refused: .*application identity") \
        == errno.EACCES
    assert tasks(emu)[0]["state"] == "processing"
    # The definition deleted since: no definition has the task (ENOENT).
    os.unlink(admin.p("printers", VIRTUAL, "task_triggers", "Badge"))
    os.rmdir(admin.p("task_definitions", "Badge"))
    assert refused(admin, status, "completed\n",
                   r"status of task .* refused: none of the "
                   r"application's 0 task definitions has task") \
        == errno.ENOENT


def test_triggers_when_the_listing_will_not_expand(emu, admin):
    """The reference names no query option a printer's task triggers
    take. A service that refuses $expand=definition (400) is asked
    without it: the trigger is listed by its id, reads, and rm removes
    it; touch makes one again."""
    admin.expect_warning(r"400 invalidRequest")
    emu.set_faults("400:1,method=GET,route=/taskTriggers$,times=1")
    set_up(admin)
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    [trigger] = pull_objects(emu)[1]
    assert os.listdir(triggers) == [trigger["id"]]
    assert "refused $expand=definition" in admin.log()
    with open(os.path.join(triggers, trigger["id"])) as fh:
        assert json.load(fh)["id"] == trigger["id"]
    os.unlink(os.path.join(triggers, trigger["id"]))
    assert pull_objects(emu)[1] == []
    assert os.listdir(triggers) == []
    open(os.path.join(triggers, "Badge"), "w").close()
    [made] = pull_objects(emu)[1]
    assert os.listdir(triggers) == [made["id"]]


def test_a_trigger_the_listing_leaves_out_is_made_not_refused(emu, admin,
                                                              alice, workdir):
    """The service has been seen to list no trigger while one existed
    (reference §11): a create it answered 201 is made, so touch returns 0
    and task_triggers/ shows it (from the create's reply), also when the
    listing is fetched again, until it lists it or rm removes it. It
    failed with ENOENT, the trigger made and out of the mount's reach."""
    emu.call("POST", "/_emulator", {"triggersListEmpty": True})
    set_up(admin)
    [made] = pull_objects(emu)[1]
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    assert os.listdir(triggers) == ["Badge"]
    assert "is not in its trigger listing: shown as made" in admin.log()
    # Still there once the (empty) listing is fetched again (dir_ttl=1).
    route = "GET /print/printers/{id}/taskTriggers"
    asked = emu.requests()["routes"].get(route, 0)
    util.wait_until(lambda: os.listdir(triggers) == ["Badge"] and
                    emu.requests()["routes"].get(route, 0) > asked + 1,
                    timeout=20, what="the trigger listing fetched again")
    assert os.listdir(triggers) == ["Badge"]
    # It holds jobs: the task comes.
    print_as(alice, workdir, "held.pdf")
    util.wait_until(lambda: tasks(emu), timeout=10, what="the task")
    os.unlink(os.path.join(triggers, "Badge"))
    assert pull_objects(emu)[1] == [], made


def test_a_shown_trigger_the_service_no_longer_has_goes_at_rm(emu, admin):
    """A trigger shown from its create's reply (the listing lacks it) and
    deleted elsewhere since: rm's DELETE gets a 404, so rm says ENOENT
    and the trigger is no longer shown. It stayed for the mount's life,
    as no listing would ever drop it."""
    emu.call("POST", "/_emulator", {"triggersListEmpty": True})
    set_up(admin)
    [made] = pull_objects(emu)[1]
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    assert os.listdir(triggers) == ["Badge"]
    status, _ = emu.call(
        "DELETE", "/v1.0/print/printers/%s/taskTriggers/%s"
        % (made["printerId"], made["id"]),
        headers={"Authorization": "Bearer " +
                 token(emu, upn="admin@contoso.com", client_id=APP)})
    assert status == 204
    admin.expect_warning(r"deleting the task trigger refused: HTTP 404")
    util.expect_errno(lambda: os.unlink(os.path.join(triggers, "Badge")),
                      errno.ENOENT)
    assert os.listdir(triggers) == []


def test_a_lost_trigger_create_when_the_listing_ignores_the_expand(
        emu, admin):
    """A service that takes $expand=definition on the trigger listing but
    leaves the definition out: a create whose reply was lost is still
    found made (a printer takes one trigger), and the trigger is listed
    by its id."""
    emu.call("POST", "/_emulator", {"listsIgnoreExpand": ["definition"]})
    os.mkdir(admin.p("task_definitions", "Badge"))
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    emu.set_faults("drop:1,method=POST,route=/taskTriggers$,times=1")
    open(os.path.join(triggers, "Badge"), "w").close()
    [made] = pull_objects(emu)[1]
    assert os.listdir(triggers) == [made["id"]]


def test_a_trigger_create_when_the_listing_before_it_fails(emu, upfs_mount,
                                                          workdir):
    """A create lists the printer's triggers first, so that a lost reply's
    read-back takes only a trigger new since. That listing failing stops
    no create: a lost reply is then found made by its definition. Where
    the listing leaves definitions out nothing tells the new trigger from
    one made before, so that create fails, and the trigger the service
    made shows by its id."""
    # Long time-outs: no refresh in the background takes the one 403
    # meant for the create's own listing.
    admin = upfs_mount(emu, token=token(emu, upn="admin@contoso.com",
                                        client_id=APP),
                       options=app_options(emu, workdir, "dir_ttl=600",
                                           "status_ttl=600"))
    admin.expect_warning(r"trigger")
    os.mkdir(admin.p("task_definitions", "Badge"))
    triggers = admin.p("printers", VIRTUAL, "task_triggers")
    badge = os.path.join(triggers, "Badge")
    listing_fails = "403:1,method=GET,route=/taskTriggers$,times=1"
    lost = listing_fails + ";drop:1,method=POST,route=/taskTriggers$,times=1"

    def gets_refused():
        return [h for h in emu.call("GET", "/_emulator/faults")[1]["history"]
                if h["method"] == "GET" and h["fault"] == "403"]

    def made_despite(spec):
        # Listed first: the look-up of the new name comes from that listing.
        assert os.listdir(triggers) == []
        emu.set_faults(spec)
        open(badge, "w").close()
        assert len(gets_refused()) == 1
        assert len(pull_objects(emu)[1]) == 1
        assert os.listdir(triggers) == ["Badge"]
    made_despite(listing_fails)
    os.unlink(badge)
    assert pull_objects(emu)[1] == []
    made_despite(lost)

    os.unlink(badge)
    emu.call("POST", "/_emulator", {"listsIgnoreExpand": ["definition"]})
    assert os.listdir(triggers) == []
    emu.set_faults(lost)
    with pytest.raises(OSError) as exc:
        open(badge, "w").close()
    # EEXIST when libcurl sent the POST again on a new connection (the
    # reused one died unanswered) and the service refused a second trigger.
    assert exc.value.errno in (errno.EIO, errno.EEXIST), exc.value
    assert len(gets_refused()) == 1
    [made] = pull_objects(emu)[1]
    assert os.listdir(triggers) == [made["id"]]
