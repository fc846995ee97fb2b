"""The fault matrix (issue 10): every fault the emulator can inject, at
every step where upfs talks to the service — the steps of a print
(creating the job, opening the upload session, each range PUT, starting
the job), a listing refreshed after its TTL, a permission commit ($ref
adds and removes) and a defaults.json commit (PATCH) — while the service
misbehaves for a request or two, then behaves.

A print must end either with close() returning 0 and the document printed
exactly once, byte for byte, or with a clean errno and the reason in
.upfs/status; never a duplicate job, a job left waiting for its document,
or an open upload session. A listing must answer (the fresh list, the old
one, or a clean errno), never hang, and show the truth once the fault
clears. A commit must leave the service as it was or fully changed (a
clean errno exactly when it is as it was), never half-applied, and the
file must then read what the service holds.

A stall sends half a reply and then nothing: the mounts here take
low_speed_time=2, so it costs 2 s, not 30."""

import errno
import json
import os
import threading

import pytest

from test_print import make_pdf, pending_entries, job_ids
from test_print_failures import check_exactly_once

import signin
import util

SHARE = "Floor3"
PHASES = {
    "create": "method=POST,route=/jobs$",
    "session": "route=createUploadSession",
    "put": "method=PUT,route=/uploadSessions/",
    "start": "route=/start$",
}
STALL = "stall:1:4"             # silent for 4 s: past low_speed_time=2
FAST = ["low_speed_time=2"]
# Every kind that spoils one request, in the spec's words.
KINDS = ["429:1", "500:1", "501:1", "502:1", "503:1", "504:1", "401:1",
         "reset:1", "drop:1", "html:1", "truncated:1", "malformed:1", STALL]
# Only upload URLs can expire or refuse an overlap (416); an upload PUT's
# reply is tiny JSON, which a proxy's HTML page stands for no better than
# the malformed body does.
CASES = [(f, p) for p in PHASES for f in KINDS
         if not (f == "html:1" and p == "put")] + \
    [("expire:1", "put"), ("416:1", "put")] + \
    [("404:1", p) for p in ("create", "session", "start")]
# What a failed commit may say: the service refused, was unreachable, or
# answered nonsense; never ENOENT or EINVAL for a list that is fine.
CLEAN = {errno.EIO, errno.EAGAIN, errno.ECONNRESET, errno.ETIMEDOUT,
         errno.EPROTO, errno.EACCES, errno.EOPNOTSUPP}


def kind_of(fault):
    return fault.split(":")[0]


def ids(cases):
    return ["%s-%s" % (kind_of(f), p) for f, p in cases]


# --- printing ----------------------------------------------------------------

@pytest.mark.parametrize("fault,phase", CASES, ids=ids(CASES))
def test_fault_at_each_step(start_emulator, upfs_mount, workdir, fault,
                            phase):
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    mount = upfs_mount(emu, options=FAST)
    mount.expect_warning(r".")      # each case logs what went wrong
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    name = "matrix-%s-%s.pdf" % (kind_of(fault), phase)
    # Three range PUTs where the ranges are the point, else one.
    size = 9 * 1024 * 1024 + 123 if phase == "put" else 64 * 1024
    data = make_pdf(name, size)
    emu.set_faults("%s,%s,times=2" % (fault, PHASES[phase]))
    rc = 0
    try:
        with open(os.path.join(queue, name), "wb") as fh:
            fh.write(data)
    except OSError as exc:
        rc = exc.errno
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the document to finish or be refused")
    emu.set_faults("")
    if rc == 0:
        check_exactly_once(emu, mount, share["id"], before, {name: data})
    else:
        assert rc in CLEAN | {errno.ENOENT}, errno.errorcode[rc]
        if kind_of(fault) == "404":
            # The share is gone (EACCES: none this user may see), or the
            # job (ENOENT).
            want = errno.EACCES if phase == "create" else errno.ENOENT
            assert rc == want, errno.errorcode[rc]
        assert mount.status()["last_error"] not in ("", "none")
        check_exactly_once(emu, mount, share["id"], before, {name: data},
                           required=set(), refused={name})


def print_with_put_faults(start_emulator, upfs_mount, name, size, spec,
                          warning=None, settings=None):
    """Prints name (size bytes) while the upload PUTs meet spec, the log
    may say warning, the emulator has settings (POST /_emulator): (emu,
    mount, share id, jobs before, the bytes, upload sessions opened)."""
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    if settings:
        status, out = emu.call("POST", "/_emulator", settings)
        assert status == 200, out
    mount = upfs_mount(emu, options=FAST)
    if warning:
        mount.expect_warning(warning)
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    data = make_pdf(name, size)
    emu.set_faults("%s,%s" % (spec, PHASES["put"]))
    with open(mount.p("shares", SHARE, "queue", name), "wb") as fh:
        fh.write(data)
    emu.set_faults("")
    sessions = emu.requests()["routes"].get(
        "POST /print/shares/{id}/jobs/{jid}/documents/{did}/"
        "createUploadSession")
    return emu, mount, share["id"], before, data, sessions


@pytest.mark.parametrize("fault", ["403:1", "401:1"])
def test_an_upload_url_refused_gets_a_new_session(start_emulator,
                                                 upfs_mount, fault):
    """An upload URL carries its own credential (reference §3.3); refused
    (403, as one past its expirationDateTime may be, or 401, the
    tempauthtoken not taken), the session is no use: upfs opens a new
    one, and the document prints once, before close() returns. It was
    taken for the user's refusal (403: the document dropped) or for a
    bearer token to sign in again for (401: it waited in the spool and
    tried the same URL again)."""
    name = "refused-url-%s.pdf" % kind_of(fault)
    emu, mount, share_id, before, data, sessions = print_with_put_faults(
        start_emulator, upfs_mount, name, 64 * 1024, fault + ",times=1",
        warning=r".")
    assert sessions == 2, sessions
    assert pending_entries(mount.p("shares", SHARE, "queue")) == []
    check_exactly_once(emu, mount, share_id, before, {name: data})


def test_an_expired_session_is_not_taken_for_a_finished_upload(
        start_emulator, upfs_mount):
    """An upload session that expired (404) may also be one whose last
    PUT's reply was lost: upfs asks the job. A service that fills in the
    document's size when the session is made (the reference shows a new
    job's document with size 0 and no more) must not make a size that
    matches read as every byte in: the job still waits for its upload
    (uploadPending, no uploadedDateTime). upfs opens a new session, and
    the document prints once, whole. It was started half uploaded, and
    the start refused."""
    name = "expired-early-size.pdf"
    emu, mount, share_id, before, data, sessions = print_with_put_faults(
        start_emulator, upfs_mount, name, 9 * 1024 * 1024 + 123,
        "expire:1,times=1", warning=r".",
        settings={"documentSetAtSession": True})
    assert sessions == 2, sessions
    assert pending_entries(mount.p("shares", SHARE, "queue")) == []
    check_exactly_once(emu, mount, share_id, before, {name: data})


def test_a_session_of_another_size_is_replaced(start_emulator, upfs_mount):
    """A range PUT refused with fragmentLengthMismatch in the error's
    innerError (reference §4 item 7: the session's size is not the
    document's) can never fit that session: upfs opens a new one, and the
    document prints once, before close() returns. It was a refusal of the
    document (EINVAL), which was dropped."""
    name = "other-size.pdf"
    emu, mount, share_id, before, data, sessions = print_with_put_faults(
        start_emulator, upfs_mount, name, 64 * 1024, "mismatch:1,times=1",
        warning=r".")
    assert sessions == 2, sessions
    assert pending_entries(mount.p("shares", SHARE, "queue")) == []
    check_exactly_once(emu, mount, share_id, before, {name: data})


@pytest.mark.parametrize("fault", ["malformed:1", "416:1", "overlap:1"])
def test_spoiled_first_put_is_not_the_last(start_emulator, upfs_mount,
                                           fault):
    """Five ranges, four at a time: the first two replies are spoiled (a
    200 that is not JSON, or a 416 for bytes that did arrive, or a 400
    whose innerError says fragmentOverlap, reference §4 item 7). Neither
    says the document is complete: upfs asks the session, sends the fifth
    range, and the job prints whole, from one upload session."""
    name = "five-ranges-%s.pdf" % kind_of(fault)
    emu, mount, share_id, before, data, sessions = print_with_put_faults(
        start_emulator, upfs_mount, name, 5 * 4096000 - 1000,
        fault + ",times=2")
    assert sessions == 1, sessions
    check_exactly_once(emu, mount, share_id, before, {name: data})


def test_a_throttled_create_is_sent_again_at_once(start_emulator,
                                                  upfs_mount):
    """A 429 without Retry-After on the job's create: a throttled request
    fails without being carried out, so the POST is sent again after a
    backoff, and the document prints before close() returns. It waited in
    the spool (and its backoff there) as if the create might have taken
    effect."""
    name = "throttled-create.pdf"
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    mount = upfs_mount(emu, options=FAST)
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    data = make_pdf(name, 64 * 1024)
    emu.set_faults("429:1,%s,times=2" % PHASES["create"])
    emu.reset_requests()
    with open(mount.p("shares", SHARE, "queue", name), "wb") as fh:
        fh.write(data)
    assert pending_entries(mount.p("shares", SHARE, "queue")) == []
    emu.set_faults("")
    assert emu.requests()["routes"]["POST /print/shares/{id}/jobs"] == 3
    check_exactly_once(emu, mount, share["id"], before, {name: data})


# --- a 401, then a new token -----------------------------------------------

def test_401_mid_print_takes_the_rewritten_token_file(start_emulator,
                                                       upfs_mount):
    """The job create is refused with 401 (after 2 s); meanwhile the token
    file gets a new token. upfs re-reads it after the 401 and prints within
    the same close()."""
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    mount = upfs_mount(emu, options=FAST)
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    fresh = emu.mint_token(expires_in=1800)     # not the file's token
    emu.set_faults("401:1,slow:1:2,%s,times=1" % PHASES["create"])

    def rewrite():
        tmp = mount.token_file + ".new"
        with open(tmp, "w") as fh:
            fh.write(fresh + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, mount.token_file)
    timer = threading.Timer(0.8, rewrite)
    timer.start()
    data = make_pdf("reauth", 64 * 1024)
    try:
        with open(mount.p("shares", SHARE, "queue", "reauth.pdf"),
                  "wb") as fh:
            fh.write(data)
    finally:
        timer.join()
    # Printed by the close() itself: not left in the spool for later.
    jobs = [j for j in emu.jobs(shareId=share["id"])
            if j["id"] not in before]
    assert len(jobs) == 1 and jobs[0]["sha256"] is not None, jobs
    emu.set_faults("")
    check_exactly_once(emu, mount, share["id"], before, {"reauth.pdf": data})


def test_401_with_an_unchanged_token_file_waits_in_the_spool(
        start_emulator, upfs_mount):
    """A 401 the same token cannot get past (the file did not change) is
    not the document's fault: close() returns 0, it waits in the spool
    with the reason in .upfs/status, and prints once the service takes
    the token again."""
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    mount = upfs_mount(emu, options=FAST)
    mount.expect_warning(r"401|InvalidAuthenticationToken")
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    queue = mount.p("shares", SHARE, "queue")
    emu.set_faults("401:1,%s,times=2" % PHASES["create"])
    data = make_pdf("stuck", 64 * 1024)
    with open(os.path.join(queue, "stuck.pdf"), "wb") as fh:
        fh.write(data)
    assert "InvalidAuthenticationToken" in mount.status()["last_error"]
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the spooled document to print")
    check_exactly_once(emu, mount, share["id"], before, {"stuck.pdf": data})


@pytest.fixture
def session_mounts(workdir):
    mounts = signin.SessionMounts(workdir)
    yield mounts
    mounts.finish()


@pytest.mark.parametrize("phase", ["create", "session", "start"])
def test_401_mid_print_refreshes_the_session(start_emulator, workdir,
                                              session_mounts, phase):
    """Signed in with `upfsctl login`: a 401 at a step of the print makes
    upfs take a new access token with the refresh token and go on, within
    the same close()."""
    emu = start_emulator(extra_args=["--device-interval", "1",
                                     "--device-approve-after", "0",
                                     "--job-seconds", "0.5"])
    home = signin.Home(workdir, emu, "work")
    assert home.upfsctl("login", "work", timeout=60).returncode == 0
    mount = session_mounts(home, options=FAST)
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    grants = signin.emulator_auth(emu)["counts"]["refreshGrants"]
    emu.set_faults("401:1,%s,times=1" % PHASES[phase])
    name = "session-%s.pdf" % phase
    data = make_pdf(name, 64 * 1024)
    with open(mount.p("shares", SHARE, "queue", name), "wb") as fh:
        fh.write(data)
    jobs = [j for j in emu.jobs(shareId=share["id"])
            if j["id"] not in before]
    assert len(jobs) == 1 and jobs[0]["sha256"] is not None, jobs
    assert signin.emulator_auth(emu)["counts"]["refreshGrants"] > grants
    emu.set_faults("")
    check_exactly_once(emu, mount, share["id"], before, {name: data})


# --- a listing refreshed after its TTL --------------------------------------

LISTING_KINDS = KINDS


@pytest.mark.parametrize("fault", LISTING_KINDS,
                         ids=[kind_of(f) for f in LISTING_KINDS])
def test_fault_on_listing_refresh(start_emulator, upfs_mount, fault):
    """printers/ is listed, a printer is added at the service, and the
    next listings (dir_ttl=0: each one refreshes) meet the fault twice: ls
    answers at once with the old or the new list, or fails with a clean
    errno, and shows the new printer once the service behaves."""
    emu = start_emulator()
    mount = upfs_mount(emu, options=FAST + ["dir_ttl=0"])
    mount.expect_warning(r".")
    old = sorted(os.listdir(mount.p("printers")))
    emu.add_printer(displayName="Matrix Printer")
    emu.set_faults("%s,method=GET,route=/print/printers$,times=2" % fault)
    for _ in range(3):
        proc = util.run(["ls", mount.p("printers")], timeout=20, check=False)
        if proc.returncode == 0:
            names = sorted(proc.stdout.splitlines())
            assert names in (old, sorted(old + ["Matrix Printer"])), names
        else:
            assert proc.stderr.strip(), "ls failed without a message"
    util.wait_until(lambda: "Matrix Printer" in os.listdir(
        mount.p("printers")), timeout=20, what="the fresh listing")
    emu.set_faults("")


# --- a permission commit ------------------------------------------------------

PERM_SHARE = "Reception"        # allowed_users alice, bob
ALICE, BOB, CAROL, DAVE = ("%s@contoso.com" % n
                           for n in ("alice", "bob", "carol", "dave"))


def users_of(emu, name):
    return sorted(u["userPrincipalName"]
                  for u in emu.share_by_name(name)["allowedUsers"])


close_errno = util.close_errno


def commit_list(emu, mount, path, spec, before, want, held_of):
    """Writes want (lines) to the permission file at path while the
    service meets spec: the service ends as it was (close() fails
    cleanly) or holds want (close() returns 0), never half of it.
    Returns close()'s errno and what the service holds (held_of())."""
    emu.set_faults(spec)
    rc = close_errno(path, "".join(x + "\n" for x in want))
    emu.set_faults("")
    held = held_of()
    if rc == 0:
        assert held == want, "close() returned 0 but the service has %s" \
            % held
    else:
        assert rc in CLEAN, "close() failed with %s" % errno.errorcode[rc]
        assert held == before, "a failed commit left %s (was %s)" % (
            held, before)
        assert mount.status()["last_error"] not in ("", "none")
    assert "half-applied" not in mount.log()
    return rc, held


PERM_CASES = [(f, after) for f in KINDS for after in (0, 1)]


@pytest.mark.parametrize("fault,after", PERM_CASES,
                         ids=["%s-ref%d" % (kind_of(f), a + 1)
                              for f, a in PERM_CASES])
def test_fault_on_permission_commit(start_emulator, upfs_mount, fault,
                                    after):
    """allowed_users goes from alice, bob to alice, carol, dave: three
    $ref calls. The first (or the second) and the one after it meet the
    fault. The service ends as it was (and close() fails cleanly) or with
    the new list (and close() returns 0); never half of it; the file then
    reads what the service holds."""
    emu = start_emulator()
    mount = upfs_mount(emu, options=FAST)
    mount.expect_warning(r".")
    path = mount.p("shares", PERM_SHARE, "allowed_users")
    before = users_of(emu, PERM_SHARE)
    assert before == [ALICE, BOB]
    want = [ALICE, CAROL, DAVE]
    rc, held = commit_list(emu, mount, path, "%s,route=/$ref$,after=%d,"
                           "times=2" % (fault, after), before, want,
                           lambda: users_of(emu, PERM_SHARE))
    if rc and kind_of(fault) == "401":
        assert rc == errno.EACCES
    assert util.read_text(path) == "".join(u + "\n" for u in held)


GROUP_SHARE = "Sales & Marketing"   # allowed_groups Marketing, Sales


def groups_of(emu, name):
    ids = {g["id"]: g["displayName"] for g in emu.state()["groups"]}
    return sorted(ids[g["id"]]
                  for g in emu.share_by_name(name)["allowedGroups"])


@pytest.mark.parametrize("fault", KINDS, ids=[kind_of(f) for f in KINDS])
def test_fault_on_group_commit(start_emulator, upfs_mount, fault):
    """allowed_groups goes from Marketing, Sales to Lab Staff, Marketing:
    a $ref add and a $ref remove, each meeting the fault once. The
    service ends as it was (close() fails cleanly) or with the new list
    (close() returns 0), never half of it; the file then reads what the
    service holds."""
    emu = start_emulator()
    mount = upfs_mount(emu, options=FAST)
    mount.expect_warning(r".")
    path = mount.p("shares", GROUP_SHARE, "allowed_groups")
    before = groups_of(emu, GROUP_SHARE)
    assert before == ["Marketing", "Sales"]
    want = ["Lab Staff", "Marketing"]
    _, held = commit_list(emu, mount, path,
                          "%s,route=/allowedGroups/,times=2" % fault,
                          before, want, lambda: groups_of(emu, GROUP_SHARE))
    util.wait_until(lambda: util.read_text(path) ==
                    "".join(g + "\n" for g in held), timeout=10,
                    what="allowed_groups to read what the service holds")


# --- a defaults.json commit -------------------------------------------------

PRINTER = "Floor3 LaserJet"      # copiesPerJob 1, colorMode blackAndWhite


def printer_of(emu, name):
    for p in emu.state(only=["printers"])["printers"]:
        if p["displayName"] == name:
            return p
    pytest.fail("the emulator has no printer %r" % name)


@pytest.mark.parametrize("fault", KINDS, ids=[kind_of(f) for f in KINDS])
def test_fault_on_defaults_commit(start_emulator, upfs_mount, fault):
    """defaults.json gets copiesPerJob 3 and grayscale: one PATCH, which
    meets the fault (twice, if it is sent twice). The service ends
    unchanged (close() fails cleanly) or changed (close() returns 0), and
    the file reads what the service holds."""
    emu = start_emulator()
    mount = upfs_mount(emu, options=FAST)
    mount.expect_warning(r".")
    path = mount.p("printers", PRINTER, "defaults.json")
    before = util.read_json(path)
    held_before = printer_of(emu, PRINTER)["defaults"]
    assert before["copiesPerJob"] == 1, before
    want = dict(before, copiesPerJob=3, colorMode="grayscale")
    emu.set_faults("%s,method=PATCH,route=/print/printers/,times=2" % fault)
    rc = close_errno(path, json.dumps(want, indent=2))
    emu.set_faults("")
    held = printer_of(emu, PRINTER)["defaults"]
    if rc == 0:
        assert held["copiesPerJob"] == 3 and \
            held["colorMode"] == "grayscale", held
    else:
        assert rc in CLEAN, "close() failed with %s" % errno.errorcode[rc]
        assert held == held_before, "a failed commit changed %s" % held
        if kind_of(fault) == "401":
            assert rc == errno.EACCES
    util.wait_until(lambda: util.read_json(path) == held, timeout=10,
                    what="defaults.json to read what the service holds")
