"""Printing when things go wrong (design.md §3.2, §3.3): every permanent
refusal comes back from close() (or write/truncate) as its errno and leaves
no job and no queue/ entry behind; a transient failure (service down,
`-o offline`, injected faults, kill -9 of upfs) leaves the document spooled,
shown as waiting, and printed exactly once when the service is back."""

import datetime
import errno
import json
import os
import re
import shutil
import signal
import struct
import sys
import subprocess
import threading
import time
import types

import pytest

import util
from test_print import (SHARE, STARTED, add_printer_share,
                        assert_no_open_uploads, assert_printed_once, job_ids,
                        make_pdf, new_jobs, oxps_doc, pending_entries, sha256,
                        write_file)
from util import xattr


# --- helpers -----------------------------------------------------------------

def write_and_close(path, data, chunk=128 * 1024):
    """A program's own open/write/close. Returns (step, errno): step is
    "write" or "close" for the call that failed, ("ok", 0) if none did."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for off in range(0, len(data), chunk):
            os.write(fd, data[off:off + chunk])
    except OSError as exc:
        try:
            os.close(fd)
        except OSError:
            pass
        return "write", exc.errno
    try:
        os.close(fd)
    except OSError as exc:
        return "close", exc.errno
    return "ok", 0


def assert_left_nothing(emu, mount, share_id, before, name):
    """No job left behind (new ones only canceled), no queue/ entry, no open
    upload session."""
    left = [j for j in new_jobs(emu, share_id, before)
            if j["state"] != "canceled"]
    assert left == [], "a refused document left jobs behind: %s" % left
    queue = mount.p("shares", mount.share_dir, "queue")
    assert name not in os.listdir(queue), os.listdir(queue)
    assert_no_open_uploads(emu)


def assert_status_names(mount, name):
    """The refusal's reason reaches .upfs/status (design §3.2)."""
    last = mount.status()["last_error"]
    assert name in last, ".upfs/status last_error does not name %r: %r" % (
        name, last)


def refused(mount, emu, share_name, name, data, want_errno, upn=None):
    """Writes `data` to queue/name with os.open/write/close and checks the
    refusal: close() fails with want_errno, nothing is left behind."""
    share = emu.share_by_name(share_name)
    mount.share_dir = share_name
    mount.expect_warning(r"'%s'" % name.replace(".", r"\."))
    before = job_ids(emu, share["id"])
    step, err = write_and_close(mount.p("shares", share_name, "queue", name),
                                data)
    assert (step, err) == ("close", want_errno), \
        "%s: %s failed with %s, wanted close() to fail with %s" % (
            name, step, errno.errorcode.get(err, err),
            errno.errorcode[want_errno])
    assert_left_nothing(emu, mount, share["id"], before, name)
    return share


# --- permanent refusals ------------------------------------------------------

def test_plain_text_is_einval(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    refused(mount, emulator, SHARE, "notes.txt",
            b"just some words, no document format\n" * 100, errno.EINVAL)
    assert_status_names(mount, "notes.txt")


def test_format_the_printer_lacks_is_einval(emulator, upfs_mount):
    """No demo printer lacks application/pdf: add one that does."""
    add_printer_share(emulator, "No PDF", ["image/pwg-raster", "image/urf"],
                      "NoPdf")
    mount = upfs_mount(emulator)
    refused(mount, emulator, "NoPdf", "doc.pdf", make_pdf("nopdf"),
            errno.EINVAL)
    assert_status_names(mount, "doc.pdf")


def emulator_with_settings(start_emulator, workdir, **settings):
    """An emulator whose tenant settings differ from the seed: there is no
    test route for /print/settings, so the demo state is saved with
    --state, edited, and loaded by a second emulator."""
    path = os.path.join(workdir, "emulator-state.json")
    start_emulator(extra_args=["--state", path]).stop()
    with open(path, encoding="utf-8") as fh:
        state = json.load(fh)
    state["settings"].update(settings)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
    emu = start_emulator(extra_args=["--state", path])
    assert emu.state()["settings"] == dict(state["settings"])
    return emu


def test_oxps_without_conversion_is_einval(start_emulator, upfs_mount,
                                           workdir):
    emu = emulator_with_settings(start_emulator, workdir,
                                 documentConversionEnabled=False)
    mount = upfs_mount(emu)
    refused(mount, emu, SHARE, "form.oxps", oxps_doc("noconv"), errno.EINVAL)
    assert_status_names(mount, "form.oxps")


def test_user_not_allowed_is_eacces(emulator, upfs_mount):
    shares = emulator.state(only=["shares", "users"])
    bob = next(u for u in shares["users"]
               if u["userPrincipalName"] == "bob@contoso.com")
    sales = next(s for s in shares["shares"]
                 if s["displayName"] == "Sales & Marketing")
    assert not sales["allowAllUsers"]
    assert bob["id"] not in sales.get("allowedUsers", []), sales
    mount = upfs_mount(emulator,
                       token=emulator.mint_token("bob@contoso.com"))
    assert "Sales & Marketing" in os.listdir(mount.p("shares"))
    refused(mount, emulator, "Sales & Marketing", "bob.pdf", make_pdf("bob"),
            errno.EACCES)
    assert_status_names(mount, "bob.pdf")


def test_quota_is_edquot(start_emulator, upfs_mount, workdir):
    emu = start_emulator(extra_args=["--job-quota", "1"])
    mount = upfs_mount(emu)
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    data = make_pdf("first")
    assert write_and_close(mount.p("shares", SHARE, "queue", "first.pdf"),
                           data) == ("ok", 0)
    assert_printed_once(emu, share["id"], before, "first.pdf", data)
    refused(mount, emu, SHARE, "second.pdf", make_pdf("second"),
            errno.EDQUOT)
    assert_status_names(mount, "second.pdf")


def test_over_1gb_is_efbig(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    mount.share_dir = SHARE
    before = job_ids(emulator, share["id"])
    queue = mount.p("shares", SHARE, "queue")

    mount.expect_warning(r"'huge2?\.pdf'")

    def close_errno(fd):
        try:
            os.close(fd)
        except OSError as exc:
            return exc.errno
        return 0

    # ftruncate past 1 GiB; the file was never written, so its close may
    # report the refusal again or drop it quietly.
    fd = os.open(os.path.join(queue, "huge.pdf"), os.O_WRONLY | os.O_CREAT)
    try:
        util.expect_errno(lambda: os.ftruncate(fd, (1 << 30) + 1),
                          errno.EFBIG)
    finally:
        assert close_errno(fd) in (0, errno.EFBIG)
    # A valid start, then writes that end past 1 GiB: the close must not
    # print the part that fitted while saying 0 for what it did not.
    fd = os.open(os.path.join(queue, "huge2.pdf"), os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, make_pdf("huge", 4096))
        util.expect_errno(lambda: os.pwrite(fd, b"x" * 10, 1 << 30),
                          errno.EFBIG)
        util.expect_errno(lambda: os.pwrite(fd, b"x", (1 << 30) + 4096),
                          errno.EFBIG)
    finally:
        err = close_errno(fd)
    assert err == errno.EFBIG, "close after a refused write: %s" % (
        errno.errorcode.get(err, err))
    for name in ("huge.pdf", "huge2.pdf"):
        assert_left_nothing(emulator, mount, share["id"], before, name)
    assert new_jobs(emulator, share["id"], before) == []


@pytest.fixture
def small_tmpfs(workdir):
    """An 8 MiB tmpfs for a cache_dir, unmounted after the test's mounts."""
    path = os.path.join(workdir, "small-cache")
    os.mkdir(path)
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700",
                         "tmpfs", path], capture_output=True, text=True)
    if rc.returncode != 0:
        pytest.skip("cannot mount a tmpfs (needs root): %s" % rc.stderr)
    yield path
    if subprocess.call(["umount", path]) != 0:
        subprocess.call(["umount", "-l", path])


@pytest.fixture
def failing_spool_disk(workdir):
    """A cache_dir whose spool/ is an ext4 on a loop device over a 4 MiB
    tmpfs: writes land in the page cache, and writing them back fails
    once the tmpfs is full (the loop device reports an I/O error)."""
    backing = os.path.join(workdir, "failing-backing")
    cache = os.path.join(workdir, "failing-cache")
    spool = os.path.join(cache, "spool")
    image = os.path.join(backing, "ext4.img")
    for tool in ("mount", "umount", "truncate", "mkfs.ext4", "losetup"):
        if shutil.which(tool) is None:
            pytest.skip("no %s here" % tool)
    os.makedirs(spool)
    os.mkdir(backing)
    undo = []

    def run(*argv):
        return subprocess.run(argv, capture_output=True, text=True)

    try:
        steps = (("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", backing),
                 ("truncate", "-s", "64M", image),
                 ("mkfs.ext4", "-q", "-O", "^has_journal", "-E",
                  "lazy_itable_init=1,nodiscard", image))
        for argv in steps:
            rc = run(*argv)
            if rc.returncode != 0:
                pytest.skip("%s: %s" % (" ".join(argv[:2]), rc.stderr))
            if argv[0] == "mount":
                undo.append(("umount", backing))
        rc = run("losetup", "-f", "--show", image)
        if rc.returncode != 0:
            pytest.skip("no loop device: %s" % rc.stderr)
        loop = rc.stdout.strip()
        undo.append(("losetup", "-d", loop))
        rc = run("mount", "-o", "errors=continue", loop, spool)
        if rc.returncode != 0:
            pytest.skip("cannot mount the loop device: %s" % rc.stderr)
        undo.append(("umount", spool))
        os.rmdir(os.path.join(spool, "lost+found"))
        yield cache
    finally:
        for argv in reversed(undo):
            if subprocess.call(argv, stderr=subprocess.DEVNULL) != 0 and \
                    argv[0] == "umount":
                subprocess.call(["umount", "-l", argv[1]])


def test_a_spool_write_back_that_failed_starts_no_job(failing_spool_disk,
                                                      emulator, upfs_mount):
    """The kernel failed to write a document's spool file back (its bytes
    were never flushed: close() and the rename do not wait for the disk),
    so the upload may have read what the disk holds instead: its job is
    cancelled, never started, and the rename, the submission, says EIO."""
    mount = upfs_mount(emulator, cache_dir=failing_spool_disk)
    mount.expect_warning(r"'(unsure|synced)\.pdf'")
    share = emulator.share_by_name(SHARE)
    mount.share_dir = SHARE
    before = job_ids(emulator, share["id"])
    queue = mount.p("shares", SHARE, "queue")
    dot = os.path.join(queue, ".unsure.pdf")
    assert write_and_close(dot, make_pdf("unsure", 16 << 20)) == ("ok", 0)
    os.sync()           # the write-back, which the full tmpfs refuses
    # The cancel meets 503s (a POST the client does not repeat itself):
    # it is sent again.
    status, out = emulator.call("POST", "/_emulator/faults", {
        "spec": "503:1,method=POST,route=/cancel$,times=2"})
    assert status == 200, out
    with pytest.raises(OSError) as exc:
        os.rename(dot, os.path.join(queue, "unsure.pdf"))
    assert exc.value.errno == errno.EIO, exc.value
    assert_left_nothing(emulator, mount, share["id"], before, "unsure.pdf")
    assert [j["state"] for j in new_jobs(emulator, share["id"], before)] \
        == ["canceled"]
    assert_status_names(mount, "unsure.pdf")
    assert "disk failed" in mount.status()["last_error"]
    # A program's fsync learns of the failure first (the file reports it
    # once): then nothing is sent at all, and the rename fails the same.
    before = job_ids(emulator, share["id"])
    dot = os.path.join(queue, ".synced.pdf")
    fd = os.open(dot, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, make_pdf("synced", 8 << 20))
        with pytest.raises(OSError) as exc:
            os.fsync(fd)
        err = exc.value.errno
        assert err in (errno.EIO, errno.ENOSPC), exc.value
    finally:
        try:
            os.close(fd)
        except OSError as exc:
            assert exc.errno == err, exc
    with pytest.raises(OSError) as exc:
        os.rename(dot, os.path.join(queue, "synced.pdf"))
    assert exc.value.errno == err, exc.value
    assert new_jobs(emulator, share["id"], before) == []
    assert_left_nothing(emulator, mount, share["id"], before, "synced.pdf")


def test_spool_disk_full_is_enospc(small_tmpfs, emulator, upfs_mount):
    mount = upfs_mount(emulator, cache_dir=small_tmpfs)
    share = emulator.share_by_name(SHARE)
    mount.share_dir = SHARE
    mount.expect_warning(r"'full\.pdf'")
    before = job_ids(emulator, share["id"])
    data = make_pdf("full", 20 * 1024 * 1024)
    step, err = write_and_close(mount.p("shares", SHARE, "queue", "full.pdf"),
                                data)
    assert step in ("write", "close") and err == errno.ENOSPC, (
        step, errno.errorcode.get(err, err))
    # Not even the part that fitted is printed.
    assert_left_nothing(emulator, mount, share["id"], before, "full.pdf")
    assert new_jobs(emulator, share["id"], before) == []
    # The spool gave its space back: a small document prints.
    small = make_pdf("after full")
    assert write_and_close(mount.p("shares", SHARE, "queue", "after.pdf"),
                           small) == ("ok", 0)
    assert_printed_once(emulator, share["id"], before, "after.pdf", small)


def fill(path):
    """Writes path until its filesystem is full."""
    with open(path, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def test_a_permission_edit_on_a_full_disk_sends_nothing(small_tmpfs,
                                                        emulator,
                                                        upfs_mount):
    """allowed_users is journaled in the cache before its first $ref (so a
    kill -9 part-way can be settled): with the cache's disk full, the edit
    fails with ENOSPC before anything is sent, and the list stays."""
    mount = upfs_mount(emulator, cache_dir=small_tmpfs)
    # Full before the cache grows: what it then keeps fits in the pages
    # it has (or is not kept), and the journal needs new ones.
    fill(os.path.join(small_tmpfs, "filler"))
    mount.expect_warning(r"No space left|cache")
    share = "Reception"
    path = mount.p("shares", share, "allowed_users")
    before = util.read_text(path)
    assert before.splitlines() == ["alice@contoso.com", "bob@contoso.com"]
    emulator.reset_writes()
    mount.expect_warning(r"allowed_users of share .* refused: cannot "
                         r"journal the change")
    rc = util.close_errno(path, before + "carol@contoso.com\n")
    assert rc == errno.ENOSPC, errno.errorcode.get(rc, rc)
    assert emulator.writes() == []
    assert "cannot journal" in mount.status()["last_error"]
    os.unlink(os.path.join(small_tmpfs, "filler"))
    assert util.close_errno(path, before + "carol@contoso.com\n") == 0
    assert util.read_text(path).splitlines() == [
        "alice@contoso.com", "bob@contoso.com", "carol@contoso.com"]


def test_share_options_on_a_full_disk_keep_the_old(small_tmpfs, emulator,
                                                   upfs_mount):
    """shares/<s>/options live in the cache: with its disk full, a new
    text (one the cache's pages cannot hold) fails with ENOSPC, and the
    options in force stay."""
    mount = upfs_mount(emulator, cache_dir=small_tmpfs)
    path = mount.p("shares", SHARE, "options")
    assert util.close_errno(path, "copies=2\n") == 0
    fill(os.path.join(small_tmpfs, "filler"))
    mount.expect_warning(r"options of share .* refused|No space left")
    rc = util.close_errno(path, "copies=3\n" + "# room\n" * 400)
    assert rc == errno.ENOSPC, errno.errorcode.get(rc, rc)
    assert util.read_text(path) == "copies=2\n"
    assert "options" in mount.status()["last_error"]
    os.unlink(os.path.join(small_tmpfs, "filler"))
    assert util.close_errno(path, "copies=4\n") == 0
    assert util.read_text(path) == "copies=4\n"


def test_share_options_checked_while_the_share_cannot_be_read(
        start_emulator, upfs_mount):
    """The options are checked against the share's printer: on a cold
    cache with the share's GET failing (500), close() fails cleanly (EIO)
    and the options stay as they were (none)."""
    emu = start_emulator()
    mount = upfs_mount(emu)
    share = emu.share_by_name(SHARE)
    path = mount.p("shares", SHARE, "options")
    assert util.read_text(path) == ""
    mount.expect_warning(r"HTTP 500|options of share .* refused")
    emu.set_faults("500:1,method=GET,route=/print/shares/%s$,times=50"
                   % share["id"])
    rc = util.close_errno(path, "copies=2\n")
    emu.set_faults("")
    assert rc == errno.EIO, errno.errorcode.get(rc, rc)
    assert util.read_text(path) == ""
    assert "options" in mount.status()["last_error"]


def test_a_spool_short_of_room_keeps_no_file(small_tmpfs, emulator,
                                             upfs_mount, workdir):
    """A printed document's spool file is kept for the next one only while
    the disk has four times its size free: on an 8 MiB cache_dir a 2 MiB
    one is removed, a 1 MiB one (4 MiB to spare) is kept."""
    mount = upfs_mount(emulator, cache_dir=small_tmpfs)
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    for name, size, left in (("first.pdf", 2 * 1024 * 1024,
                              [".lock", ".unflushed"]),
                             ("second.pdf", 1024 * 1024 + 7,
                              [".lock", ".reuse", ".unflushed"])):
        data = make_pdf(name, size)
        before = job_ids(emulator, share["id"])
        util.run(["cp", write_file(os.path.join(workdir, name), data),
                  queue + "/"])
        assert_printed_once(emulator, share["id"], before, name, data)
        assert sorted(os.listdir(os.path.join(small_tmpfs, "spool"))) == \
            left, name


def test_offline_close_fails_when_the_spool_cannot_keep_it(
        start_emulator, upfs_mount, small_tmpfs):
    """Offline, close() says 0 only once the document's outbox record is on
    disk (none is written earlier): a disk that fills up after its bytes
    were written fails the close, and nothing is left looking spooled."""
    emu = start_emulator()
    mount = upfs_mount(emu, cache_dir=small_tmpfs)
    assert os.listdir(mount.p("shares", SHARE, "queue")) == []  # warm
    mount.unmount()
    mount = upfs_mount(emu, cache_dir=small_tmpfs, options=["offline"])
    mount.expect_warning(r"'full\.pdf'")
    queue = mount.p("shares", SHARE, "queue")
    filler = os.path.join(small_tmpfs, "filler")
    fd = os.open(os.path.join(queue, "full.pdf"), os.O_WRONLY | os.O_CREAT)
    err = 0
    try:
        os.write(fd, make_pdf("offline full", 300 * 1024))
        fill(filler)
    finally:
        try:
            os.close(fd)
        except OSError as exc:
            err = exc.errno
    assert err == errno.ENOSPC, errno.errorcode.get(err, err)
    assert pending_entries(queue) == []
    assert outbox_records(small_tmpfs) == {}
    os.unlink(filler)
    # With room again, a document waits in the spool as it should.
    assert write_and_close(os.path.join(queue, "room.pdf"),
                           make_pdf("room")) == ("ok", 0)
    assert [r["name"] for r in outbox_records(small_tmpfs).values()] == \
        ["room.pdf"]


def mount_expecting(emulator, upfs_mount, warning):
    """A mount whose log may hold warning: (mount, SHARE, its jobs before,
    its queue/)."""
    mount = upfs_mount(emulator)
    mount.expect_warning(warning)
    share = emulator.share_by_name(SHARE)
    mount.share_dir = SHARE
    return (mount, share, job_ids(emulator, share["id"]),
            mount.p("shares", SHARE, "queue"))


def test_rename_is_the_submission_and_honest(emulator, upfs_mount, workdir):
    """rsync writes .notes.txt.XXXXXX and renames it: the rename returns the
    refusal; mv from another filesystem fails and keeps its source."""
    mount, share, before, queue = mount_expecting(emulator, upfs_mount,
                                                  r"'notes\.txt'")
    src = write_file(os.path.join(workdir, "notes.txt"), b"plain text\n" * 50)
    rc = util.run(["rsync", src, queue + "/"], check=False)
    assert rc.returncode != 0 and "Invalid argument" in rc.stderr, rc
    assert_left_nothing(emulator, mount, share["id"], before, "notes.txt")
    assert [n for n in os.listdir(queue) if n.startswith(".")] == []
    rc = util.run(["mv", src, queue + "/"], check=False)
    assert rc.returncode != 0 and "Invalid argument" in rc.stderr, rc
    assert os.path.exists(src), "mv lost its source after a refused print"
    assert_left_nothing(emulator, mount, share["id"], before, "notes.txt")
    assert new_jobs(emulator, share["id"], before) == []


@pytest.mark.parametrize("fault,want", [
    ("403:1,method=POST,route=/jobs$", errno.EACCES),
    ("404:1,route=/start$", errno.ENOENT),
    ("429:1:1,method=POST,route=/jobs$", 0),
    ("500:1,route=createUploadSession", 0),
    ("drop:1,method=POST,route=/jobs$", 0),
])
def test_rename_into_the_queue_meets_a_fault(start_emulator, upfs_mount,
                                             fault, want):
    """The rename of .x.pdf to x.pdf is the submission: it returns what
    close() would. A refusal fails it cleanly with nothing printed (the
    dot file gone); a passing fault prints the document exactly once."""
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    mount = upfs_mount(emu, options=["low_speed_time=2"])
    mount.expect_warning(r".")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    data = make_pdf("renamed", 64 * 1024)
    with open(os.path.join(queue, ".x.pdf"), "wb") as fh:
        fh.write(data)
    emu.set_faults(fault + ",times=1")
    rc = util.call_errno(lambda: os.rename(os.path.join(queue, ".x.pdf"),
                                           os.path.join(queue, "x.pdf")))
    emu.set_faults("")
    assert rc == want, errno.errorcode.get(rc, rc)
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the document to finish or be refused")
    assert ".x.pdf" not in os.listdir(queue)
    check_exactly_once(emu, mount, share["id"], before, {"x.pdf": data},
                       required={"x.pdf"} if want == 0 else set(),
                       refused=set() if want == 0 else {"x.pdf"})
    if want:
        assert mount.status()["last_error"] not in ("", "none")


def test_rename_of_a_dot_file_whose_write_failed_sends_nothing(
        emulator, upfs_mount):
    """A write past the job size limit fails (EFBIG) and poisons the file:
    renaming the dot file to a visible name, the submission, returns that
    error instead of sending the bytes before it."""
    mount, share, before, queue = mount_expecting(
        emulator, upfs_mount, r"'big\.pdf' not printed: a write failed")
    dot = os.path.join(queue, ".big.pdf")
    fd = os.open(dot, os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, make_pdf("half", 4096))
        with pytest.raises(OSError) as exc:
            os.pwrite(fd, b"x", 1 << 30)
        assert exc.value.errno == errno.EFBIG
    finally:
        os.close(fd)
    with pytest.raises(OSError) as exc:
        os.rename(dot, os.path.join(queue, "big.pdf"))
    assert exc.value.errno == errno.EFBIG
    assert_left_nothing(emulator, mount, share["id"], before, "big.pdf")
    assert new_jobs(emulator, share["id"], before) == []


def test_empty_file_is_not_printed(emulator, upfs_mount, workdir):
    """An empty file is no document: its close() fails with EINVAL
    (design §3.2), and its name goes. A shell's redirection still prints:
    the close of the descriptor it dup2()s onto stdout comes before the
    data, and the shell ignores its error."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    mount.share_dir = SHARE
    before = job_ids(emulator, share["id"])
    queue = mount.p("shares", SHARE, "queue")
    assert write_and_close(os.path.join(queue, "empty.pdf"), b"") == \
        ("close", errno.EINVAL)
    proc = util.run(["touch", os.path.join(queue, "touched.pdf")],
                    check=False)
    assert proc.returncode != 0 and "Invalid argument" in proc.stderr, proc
    proc = util.run(["sh", "-c", ': > "$1"', "sh",
                     os.path.join(queue, "sh.pdf")])
    assert proc.returncode == 0, proc.stderr
    proc = util.run(["cp", "/dev/null", os.path.join(queue, "null.pdf")],
                    check=False)
    assert proc.returncode != 0 and "Invalid argument" in proc.stderr, proc
    for name in ("empty.pdf", "touched.pdf", "sh.pdf", "null.pdf"):
        assert_left_nothing(emulator, mount, share["id"], before, name)
    assert new_jobs(emulator, share["id"], before) == []
    util.wait_until(lambda: mount.log().count("is empty: not printed") >= 4,
                    timeout=5, what="the 'is empty: not printed' log lines")
    data = make_pdf("redirected", 64 * 1024)
    src = os.path.join(workdir, "redirected.pdf")
    with open(src, "wb") as fh:
        fh.write(data)
    proc = util.run(["sh", "-c", 'cat "$1" > "$2"', "sh", src,
                     os.path.join(queue, "redirected.pdf")])
    assert proc.returncode == 0, proc.stderr
    assert_printed_once(emulator, share["id"], before, "redirected.pdf", data)


# --- transient failures: the service is down ---------------------------------

def local_attrs(path):
    return {k: xattr(path, k) for k in ("state", "reason", "step",
                                        "attempts", "uploaded", "size")}


def test_service_down_spools_and_prints_once_when_back(start_emulator,
                                                       upfs_mount, workdir):
    args = ["--job-seconds", "60"]
    emu = start_emulator(extra_args=args)
    mount = upfs_mount(emu)
    mount.expect_warning(r"service unreachable")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    assert os.listdir(queue) == []          # warm: the share is known
    data = make_pdf("offline", 500 * 1024)
    src = write_file(os.path.join(workdir, "doc.pdf"), data)
    port = emu.port
    emu.stop()

    t0 = time.monotonic()
    util.run(["cp", src, queue + "/"])
    took = time.monotonic() - t0
    print("cp with the service down returned 0 in %.2fs" % took)
    assert took < util.scaled(10), "cp took %.1fs with the service down" % took

    path = os.path.join(queue, "doc.pdf")
    assert "doc.pdf" in os.listdir(queue)
    attrs = local_attrs(path)
    assert attrs["state"] == "waiting", attrs
    assert attrs["reason"], attrs
    assert attrs["size"] == str(len(data)), attrs
    assert attrs["uploaded"] == "0", attrs
    assert int(attrs["attempts"]) >= 1, attrs
    assert os.stat(path).st_size == len(data)
    assert util.read_bytes(path) == data    # the spooled bytes read back
    status = mount.status()
    assert status["state"] == "offline", status
    assert status["last_error"] not in ("", "none"), status

    emu2 = start_emulator(port=port, extra_args=args)
    assert emu2.base == emu.base
    before = job_ids(emu2, share["id"])
    t1 = time.monotonic()
    util.wait_until(lambda: new_jobs(emu2, share["id"], before), timeout=15,
                    what="the spooled document's job")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=15,
                    what="the submission to finish")
    print("printed %.1fs after the service came back"
          % (time.monotonic() - t1))
    job = assert_printed_once(emu2, share["id"], before, "doc.pdf", data)
    util.wait_until(lambda: xattr(path, "id") == job["id"], timeout=10,
                    what="queue/doc.pdf to be the job")
    assert xattr(path, "state") == "processing"
    util.wait_until(lambda: mount.status()["state"] == "online", timeout=10,
                    what=".upfs/status to say online")
    time.sleep(2)           # no late duplicate
    assert len(new_jobs(emu2, share["id"], before)) == 1
    assert_no_open_uploads(emu2)


@pytest.mark.parametrize("size", [10 * 1024, 500 * 1024, 9 * 1000 * 1000])
def test_a_spool_file_that_lost_bytes_is_never_sent(start_emulator,
                                                    upfs_mount, workdir,
                                                    size):
    """A document waits in the spool (the service down) and its spool file
    is then cut short on disk: when the service is back, nothing of it is
    sent as the document: the job made for it is cancelled, never
    started, and the document leaves the queue with its reason in the
    log and .upfs/status (a service that is up is not called
    unreachable). 9 MB goes in three ranges at once, some of them
    whole."""
    args = ["--job-seconds", "60"]
    emu = start_emulator(extra_args=args)
    mount = upfs_mount(emu)
    mount.expect_warning(r"service unreachable, serving the cache: "
                         r"'/print/shares/")
    mount.expect_warning(r"'doc\.pdf' refused: its spool file no longer "
                         r"holds the document \(cannot read the document "
                         r"at byte \d+: ")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    assert os.listdir(queue) == []
    data = make_pdf("cut short", size)
    src = write_file(os.path.join(workdir, "doc.pdf"), data)
    port = emu.port
    before = job_ids(emu, share["id"])
    emu.stop()
    util.run(["cp", src, queue + "/"])
    assert local_attrs(os.path.join(queue, "doc.pdf"))["state"] == "waiting"
    spool = os.path.join(mount.cache_dir, "spool")
    kept = [os.path.join(spool, f) for f in os.listdir(spool)
            if os.path.isfile(os.path.join(spool, f)) and
            os.path.getsize(os.path.join(spool, f)) == len(data)]
    assert len(kept) == 1, os.listdir(spool)
    os.truncate(kept[0], size // 2)

    emu2 = start_emulator(port=port, extra_args=args)
    util.wait_until(lambda: pending_entries(queue) == [], timeout=20,
                    what="the document to leave the queue")
    # The new emulator is seeded as the first was: the same jobs before.
    jobs = new_jobs(emu2, share["id"], before)
    assert [j["state"] for j in jobs] == ["canceled"], jobs
    assert_no_open_uploads(emu2)
    status = mount.status()
    assert "no longer holds the document" in status["last_error"], status
    assert "doc.pdf" not in os.listdir(queue)


def test_5xx_past_the_retries_spools_then_prints_once(start_emulator,
                                                      upfs_mount, workdir):
    """Every job create answered 503 (no Retry-After: a POST is not
    retried): close() still returns 0, the document waits with its reason,
    and is printed once the service recovers."""
    emu = start_emulator(faults="503:1,method=POST,route=/jobs$",
                         extra_args=["--job-seconds", "60"])
    mount = upfs_mount(emu)
    mount.expect_warning(r"'busy\.pdf': .*503")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    data = make_pdf("busy")
    assert write_and_close(os.path.join(queue, "busy.pdf"), data) == \
        ("ok", 0)
    attrs = local_attrs(os.path.join(queue, "busy.pdf"))
    assert attrs["state"] == "waiting" and "503" in attrs["reason"], attrs
    assert new_jobs(emu, share["id"], before) == []
    assert "503" in mount.status()["last_error"]
    util.wait_until(lambda: int(xattr(os.path.join(queue, "busy.pdf"),
                                      "attempts")) >= 2, timeout=10,
                    what="a retry with backoff")
    emu.set_faults("")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=15,
                    what="the submission to finish")
    job = assert_printed_once(emu, share["id"], before, "busy.pdf", data)
    assert xattr(os.path.join(queue, "busy.pdf"), "id") == job["id"]
    assert_no_open_uploads(emu)


def test_a_create_retried_after_a_503_that_did_the_work_leaves_no_blank_job(
        start_emulator, upfs_mount):
    """A 503 with Retry-After is waited out and the create sent again;
    nothing says the first did no work. Here it did: its job is found
    blank and cancelled, and the document prints once."""
    emu = start_emulator(faults="done503:1:1,method=POST,route=/jobs$,"
                                "times=1")
    mount = upfs_mount(emu)
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    data = make_pdf("twice")
    assert write_and_close(os.path.join(queue, "twice.pdf"), data) == \
        ("ok", 0)
    jobs = new_jobs(emu, share["id"], before)
    assert len(jobs) == 2, jobs
    blank = [j for j in jobs if not j["uploaded"]]
    assert [j["state"] for j in blank] == ["canceled"], jobs
    assert_printed_once(emu, share["id"], before | {blank[0]["id"]},
                        "twice.pdf", data)
    assert_no_open_uploads(emu)


def test_kill_9_mid_upload_over_a_longer_file_resumes_its_own_bytes(
        start_emulator, upfs_mount, workdir):
    """A small document written over the kept spool file of a big one is
    killed mid-upload (its PUT takes 3 s): its record points at a file
    longer than the document, and the next mount sends the document's own
    bytes, the first `size` of it, once."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    queue = mount.p("shares", SHARE, "queue")
    big = make_pdf("kept", 3 * 1024 * 1024)
    before = job_ids(emu, share["id"])
    util.run(["cp", write_file(os.path.join(workdir, "big.pdf"), big),
              queue + "/"])
    assert_printed_once(emu, share["id"], before, "big.pdf", big)
    assert os.path.exists(os.path.join(cache, "spool", ".reuse"))

    emu.set_faults("slow:1:3,method=PUT,route=/uploadSessions/")
    small = make_pdf("small", 70 * 1024 + 9)
    before = job_ids(emu, share["id"])
    cp = subprocess.Popen(["cp", write_file(os.path.join(workdir,
                                                         "small.pdf"), small),
                           queue + "/"], stderr=subprocess.PIPE)
    util.wait_until(lambda: [r["state"] for r in
                             outbox_records(cache).values()] ==
                    ["uploading"], timeout=10, what="the upload to start")
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    cp.communicate(timeout=util.scaled(30))
    assert util.unmount_path(mount.path)
    [spooled] = spool_files(cache)
    assert os.path.getsize(os.path.join(cache, "spool", spooled)) == len(big)
    # Not flushed (close() had not returned): the page cache of this boot
    # holds the bytes the next mount resumes with.
    [record] = outbox_records(cache).values()
    assert record["unflushedBoot"] == this_boot(), record

    emu.set_faults("")
    mount = upfs_mount(emu, cache_dir=cache)
    util.wait_until(lambda: pending_entries(
        mount.p("shares", SHARE, "queue")) == [], timeout=30,
        what="the resumed document to be sent")
    assert_printed_once(emu, share["id"], before, "small.pdf", small)


@pytest.mark.parametrize("state,lose_file,cancel_fails,store", [
    ("uploading", False, False, "unflushed"),
    ("creating", False, False, "unflushed"),
    ("uploading", True, False, "unflushed"),
    ("uploading", False, False, "outbox"),
    ("creating", False, False, "outbox"),
    ("uploading", True, True, "outbox")])
def test_a_record_left_by_a_crash_of_the_machine_sends_nothing(
        start_emulator, upfs_mount, workdir, state, lose_file, cancel_fails,
        store):
    """A document mid-create or mid-upload when the machine stops had not
    been flushed (its close() had not returned, nothing was promised):
    after the reboot its spool file may have lost its bytes, or be gone, so
    the next mount sends nothing of it. Its record was in the spool's
    unflushed log, which the next boot throws away unread (it may be
    torn): the job stays as it was, never started. Where that log cannot
    be opened (spool/.unflushed is a file), records go to the outbox and name
    the boot: the next mount cancels the job — found in the share's jobs
    when only the create had been sent, cancelled again later when the
    first cancel fails."""
    route = "method=PUT,route=/uploadSessions/" if state == "uploading" \
        else "method=POST,route=/jobs$"
    emu = start_emulator(faults="slow:1:3," + route)
    share = emu.share_by_name(SHARE)
    cache = os.path.join(workdir, "cache-crash")
    os.makedirs(os.path.join(cache, "spool"))
    if store == "outbox":
        write_file(unflushed_store(cache), b"not a folder")
    mount = upfs_mount(emu, cache_dir=cache)
    if store == "outbox":
        mount.expect_warning(r"every record of the spool is flushed")
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    cp = subprocess.Popen(["cp", write_file(os.path.join(workdir, "lost.pdf"),
                                            make_pdf("lost", 300 * 1024)),
                           queue + "/"], stderr=subprocess.PIPE)
    util.wait_until(lambda: [r["state"] for r in
                             outbox_records(cache).values()] == [state],
                    timeout=10, what="the record to say %s" % state)
    assert bool(lmdb_records(cache, "outbox")) == (store == "outbox")
    util.wait_until(lambda: new_jobs(emu, share["id"], before), timeout=10,
                    what="the job to be made")
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    assert cp.wait(timeout=util.scaled(30)) != 0
    assert util.unmount_path(mount.path)
    as_left_by_another_boot(cache)
    if lose_file:
        for name in spool_files(cache):
            os.unlink(os.path.join(cache, "spool", name))

    emu.set_faults("503:1,method=POST,route=/cancel$" if cancel_fails
                   else "")
    emu.reset_requests()
    # A short TTL: queue/ shows what the service holds soon after.
    mount = upfs_mount(emu, cache_dir=cache, options=["dir_ttl=1"])
    queue = mount.p("shares", SHARE, "queue")
    if store == "outbox":
        mount.expect_warning(r"every record of the spool is flushed")
    if cancel_fails:
        mount.expect_warning(r"cancel job")
        util.wait_until(lambda: "cancelling the job of a document the "
                        "system lost" in local_attrs(
                            os.path.join(queue, "lost.pdf"))["reason"],
                        timeout=30, what="the failed cancel to wait")
        emu.set_faults("")
    if store == "outbox":
        mount.expect_warning(r"'lost\.pdf' refused: the system stopped "
                             r"before its bytes were on disk")
        util.wait_until(lambda: "'lost.pdf' refused" in mount.log(),
                        timeout=30, what="the refusal")
    else:
        assert "was another boot's: dropped unread" in mount.log()
    util.wait_until(lambda: pending_entries(queue) == [], timeout=10,
                    what="nothing pending")
    [job] = new_jobs(emu, share["id"], before)
    if store == "outbox":
        assert job["state"] == "canceled", job
        assert_no_open_uploads(emu)
        assert os.listdir(queue) == []
    else:
        # What a user sees: the job, never started, until removed (named
        # by its document, or by its id if the create's was lost).
        assert job["state"] == "paused", job
        util.wait_until(lambda: len(os.listdir(queue)) == 1, timeout=10,
                        what="the job to be listed")
        [name] = os.listdir(queue)
        assert name in ("lost.pdf", "job-" + job["id"]), name
        assert os.getxattr(os.path.join(queue, name),
                           "user.upfs.id").decode() == job["id"]
    routes = emu.requests()["routes"]
    assert not [r for r in routes if r.startswith("PUT ") or
                r.endswith("/start") or r == "POST /print/shares/{id}/jobs"], \
        routes
    mount.unmount()
    assert outbox_records(cache) == {}
    assert spool_files(cache) == []


def kill_mid_upload(emu, upfs_mount, workdir, name):
    """A mount killed while name's upload is on its way (its PUTs slowed):
    (the share, its jobs before, the document, the dead mount's
    cache_dir). Its record, UPLOADING, is in the spool's unflushed log."""
    emu.set_faults("slow:1:3,method=PUT,route=/uploadSessions/")
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    before = job_ids(emu, share["id"])
    data = make_pdf(name, 300 * 1024)
    cp = subprocess.Popen(["cp", write_file(os.path.join(workdir, name), data),
                           mount.p("shares", SHARE, "queue") + "/"],
                          stderr=subprocess.PIPE)
    util.wait_until(lambda: [r["state"] for r in
                             outbox_records(cache).values()] == ["uploading"],
                    timeout=10, what="the upload to start")
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    assert cp.wait(timeout=util.scaled(30)) != 0
    assert util.unmount_path(mount.path)
    emu.set_faults("")
    assert lmdb_records(cache, "outbox") == {}
    return share, before, data, cache


def test_a_record_in_both_stores_is_the_outboxs(start_emulator, upfs_mount,
                                                workdir):
    """A record moving to the outbox (the document has to wait) is deleted
    from the unflushed log after the outbox has it: killed in between,
    both hold it. The next mount takes the outbox's, drops the other, and
    the document prints once."""
    emu = start_emulator()
    share, before, data, cache = kill_mid_upload(emu, upfs_mount, workdir,
                                                 "both.pdf")
    [(key, text)] = unflushed_log(cache)[0].items()
    record = json.loads(text)
    del record["unflushedBoot"]         # as a promise writes it
    lmdb_put_value(cache, "outbox", key, struct.pack(
        "<q", int(time.time() * 1000)) + json.dumps(record).encode())
    assert list(unflushed_log(cache)[0]) == [key]

    mount = upfs_mount(emu, cache_dir=cache)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the document to be sent")
    assert mount.log().count("resuming 'both.pdf'") == 1, mount.log()
    mount.unmount()
    assert_printed_once(emu, share["id"], before, "both.pdf", data)
    assert outbox_records(cache) == {}


def test_an_unreadable_unflushed_log_is_dropped(start_emulator, upfs_mount,
                                                workdir):
    """A log of this boot with lines that cannot be read (a disk that lost
    its unflushed pages) does not stop the mount: what it held was never
    promised, and any record's latest line may be lost, so all of it is
    dropped with a warning, nothing of it is sent, and the next document
    prints."""
    emu = start_emulator()
    share, before, _, cache = kill_mid_upload(emu, upfs_mount, workdir,
                                              "torn.pdf")
    with open(os.path.join(unflushed_store(cache), "log"), "wb") as f:
        f.write(b"\0" * 4096 + b"\n" + b"\xff" * 100 + b"\n")
    emu.reset_requests()
    mount = upfs_mount(emu, cache_dir=cache)
    mount.expect_warning(r"\.unflushed': 2 lines could not be read")
    queue = mount.p("shares", SHARE, "queue")
    assert "2 lines could not be read: all of it dropped" in mount.log()
    assert pending_entries(queue) == []
    routes = emu.requests()["routes"]
    assert not [r for r in routes if r.startswith("PUT ") or
                r.endswith("/start")], routes
    [job] = new_jobs(emu, share["id"], before)
    assert job["state"] == "paused", job
    data = make_pdf("after.pdf", 20000)
    util.run(["cp", write_file(os.path.join(workdir, "after.pdf"), data),
              queue + "/"])
    assert_printed_once(emu, share["id"], before | {job["id"]}, "after.pdf",
                        data)
    mount.unmount()
    assert outbox_records(cache) == {}
    assert unflushed_log(cache) == ({}, 0, False)


def test_an_unflushed_log_that_cannot_be_opened_is_made_anew(
        start_emulator, upfs_mount, workdir):
    """A log of this boot that cannot be opened (here a link to nowhere)
    does not stop the mount: its records are dropped with a warning, the
    log is made anew, nothing of the lost document is sent, and the next
    document's records go to the new log."""
    emu = start_emulator()
    share, before, _, cache = kill_mid_upload(emu, upfs_mount, workdir,
                                              "gone.pdf")
    log = os.path.join(unflushed_store(cache), "log")
    os.unlink(log)
    os.symlink(os.path.join(workdir, "no", "such", "folder"), log)
    emu.reset_requests()
    mount = upfs_mount(emu, cache_dir=cache)
    mount.expect_warning(r"\.unflushed': .*: its records are dropped")
    queue = mount.p("shares", SHARE, "queue")
    assert "its records are dropped" in mount.log()
    assert "every record of the spool is flushed" not in mount.log()
    assert os.path.isfile(log) and not os.path.islink(log)
    assert pending_entries(queue) == []
    routes = emu.requests()["routes"]
    assert not [r for r in routes if r.startswith("PUT ") or
                r.endswith("/start")], routes
    [job] = new_jobs(emu, share["id"], before)
    assert job["state"] == "paused", job
    emu.set_faults("slow:1:3,method=PUT,route=/uploadSessions/")
    data = make_pdf("after.pdf", 20000)
    cp = subprocess.Popen(["cp", write_file(os.path.join(workdir,
                                                         "after.pdf"), data),
                           queue + "/"], stderr=subprocess.PIPE)
    util.wait_until(lambda: [json.loads(r)["name"] for r in
                             unflushed_log(cache)[0].values()] ==
                    ["after.pdf"], timeout=10,
                    what="the next record in the new log")
    assert cp.wait(timeout=util.scaled(30)) == 0, cp.stderr.read()
    emu.set_faults("")
    assert_printed_once(emu, share["id"], before | {job["id"]}, "after.pdf",
                        data)
    mount.unmount()
    assert outbox_records(cache) == {}


def test_a_document_that_waits_is_flushed_before_close_returns(
        start_emulator, upfs_mount, workdir):
    """close() says 0 for a document whose upload failed (503s past the
    retries) only once its spool file is flushed: its record names no
    boot, and a crash of the machine after that loses nothing: the next
    mount prints it once."""
    emu = start_emulator(faults="503:1,method=PUT,route=/uploadSessions/",
                         extra_args=["--job-seconds", "60"])
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    mount.expect_warning(r"'kept\.pdf': .*503")
    cache = mount.cache_dir
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    data = make_pdf("kept", 300 * 1024)
    assert write_and_close(os.path.join(queue, "kept.pdf"), data) == \
        ("ok", 0)
    assert local_attrs(os.path.join(queue, "kept.pdf"))["state"] == "waiting"
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    assert util.unmount_path(mount.path)
    [record] = outbox_records(cache).values()
    assert record["state"] in ("created", "uploading"), record["state"]
    assert "unflushedBoot" not in record, record
    as_left_by_another_boot(cache)

    emu.set_faults("")
    mount = upfs_mount(emu, cache_dir=cache)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the kept document to be sent")
    assert_printed_once(emu, share["id"], before, "kept.pdf", data)
    assert_no_open_uploads(emu)


def held_beside_annex(start_emulator, upfs_mount):
    """A document held.pdf waiting in Floor3's spool with its job made (its
    upload sessions and starts are refused), and a share Annex on a second
    printer: the job-id tests' setting."""
    h = types.SimpleNamespace()
    h.emu = emu = start_emulator(extra_args=["--job-seconds", "60"])
    h.share = emu.share_by_name(SHARE)
    h.printer, h.annex = add_printer_share(
        emu, "Annex LaserJet", ["application/pdf"], "Annex")
    h.held_fault = "503:1,method=POST,route=/shares/%s/jobs/" % \
        h.share["id"]
    emu.set_faults(h.held_fault)
    h.mount = upfs_mount(emu)
    h.mount.expect_warning(r"'held\.pdf': .*503")
    h.queue = h.mount.p("shares", SHARE, "queue")
    h.annex_queue = h.mount.p("shares", "Annex", "queue")
    h.before = job_ids(emu, h.share["id"])
    h.data = make_pdf("held")
    assert write_and_close(os.path.join(h.queue, "held.pdf"), h.data) == \
        ("ok", 0)
    assert held_is_waiting(h)
    [h.held] = new_jobs(emu, h.share["id"], h.before)
    return h


def held_is_waiting(h):
    return local_attrs(os.path.join(h.queue, "held.pdf"))["state"] == \
        "waiting"


def held_prints_once(h):
    h.emu.set_faults("")
    util.wait_until(lambda: pending_entries(h.queue) == [], timeout=30,
                    what="the held document to be sent")
    assert_printed_once(h.emu, h.share["id"], h.before, "held.pdf", h.data)
    assert_no_open_uploads(h.emu)


def test_a_waiting_documents_job_id_hides_no_job_of_another_printer(
        start_emulator, upfs_mount):
    """The service numbers jobs per printer: another printer may have a
    job with the id a waiting document's job has. That job still shows in
    its own share's queue/, rm there cancels it and not the document,
    which is printed once when the service is back."""
    h = held_beside_annex(start_emulator, upfs_mount)
    twin = h.emu.add_job(shareId=h.annex["id"], id=h.held["id"],
                         state="pending", documentName="twin.pdf")
    assert os.listdir(h.annex_queue) == ["twin.pdf"]
    twin_path = os.path.join(h.annex_queue, "twin.pdf")
    assert xattr(twin_path, "id") == h.held["id"]
    os.unlink(twin_path)
    assert h.emu.job(twin["key"])["state"] == "canceled"
    assert h.emu.job(h.held["id"])["state"] == "paused"
    assert held_is_waiting(h)
    held_prints_once(h)


def mount_offline_warm(emu, upfs_mount):
    """An offline mount on a cache that already lists SHARE's queue/:
    (the mount, its cache_dir)."""
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    assert os.listdir(mount.p("shares", SHARE, "queue")) == []  # warm
    mount.unmount()
    return upfs_mount(emu, cache_dir=cache, options=["offline"]), cache


def test_rm_of_a_waiting_document_sends_nothing(start_emulator, upfs_mount,
                                                workdir):
    """rm of a document waiting in the spool (an offline mount) removes it
    for good: its record goes, no job is ever made of it, and the next
    document — written over its kept spool file, then cut to its own size
    while it waits — prints its own bytes after a remount."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    mount, cache = mount_offline_warm(emu, upfs_mount)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    gone = make_pdf("gone", 2 * 1024 * 1024)
    assert write_and_close(os.path.join(queue, "gone.pdf"), gone) == \
        ("ok", 0)
    assert local_attrs(os.path.join(queue, "gone.pdf"))["state"] == \
        "waiting"
    os.unlink(os.path.join(queue, "gone.pdf"))
    assert "gone.pdf" not in os.listdir(queue)
    assert spool_files(cache) == []
    nxt = make_pdf("next", 100 * 1024)
    assert write_and_close(os.path.join(queue, "next.pdf"), nxt) == \
        ("ok", 0)
    [spooled] = spool_files(cache)
    assert os.path.getsize(os.path.join(cache, "spool", spooled)) == len(nxt)
    mount.unmount()
    assert [r["name"] for r in outbox_records(cache).values()] == \
        ["next.pdf"]

    mount = upfs_mount(emu, cache_dir=cache)
    util.wait_until(lambda: pending_entries(
        mount.p("shares", SHARE, "queue")) == [], timeout=30,
        what="the waiting document to be sent")
    assert [j.get("documentName") for j in new_jobs(emu, share["id"], before)
            ] == ["next.pdf"]
    assert_printed_once(emu, share["id"], before, "next.pdf", nxt)


def test_writing_a_waiting_documents_name_prints_both(start_emulator,
                                                      upfs_mount):
    """A document waits in the spool (an offline mount); writing its name
    anew, as a second print of report.pdf while the network is down,
    waits too, as a document of its own: the first's bytes are no longer
    to change (touch, which does not truncate, changes neither). After a
    remount both print, once each."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    mount, cache = mount_offline_warm(emu, upfs_mount)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    first = make_pdf("first copy", 200 * 1024)
    second = make_pdf("second copy", 150 * 1024)
    path = os.path.join(queue, "report.pdf")
    assert write_and_close(path, first) == ("ok", 0)
    util.run(["touch", path])           # no O_TRUNC: the same document
    assert len(pending_entries(queue)) == 1
    # Written anew, and cut through its descriptor (rsync --inplace):
    # the cut is the new document's.
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, second + b"tail to be cut")
        os.ftruncate(fd, len(second))
    finally:
        os.close(fd)
    # Two documents of one name: the second is numbered.
    assert sorted(pending_entries(queue)) == ["report ~2.pdf", "report.pdf"]
    assert util.read_bytes(path) == first
    assert util.read_bytes(os.path.join(queue, "report ~2.pdf")) == second
    mount.unmount()
    assert sorted(r["name"] for r in outbox_records(cache).values()) == \
        ["report.pdf", "report.pdf"]

    mount = upfs_mount(emu, cache_dir=cache)
    util.wait_until(lambda: pending_entries(
        mount.p("shares", SHARE, "queue")) == [], timeout=30,
        what="both waiting documents to be sent")
    jobs = new_jobs(emu, share["id"], before)
    assert sorted(j["sha256"] for j in jobs) == sorted(
        sha256(d) for d in (first, second)), jobs
    assert {j["documentName"] for j in jobs} == {"report.pdf"}
    assert all(j["state"] in STARTED for j in jobs), jobs


def test_a_waiting_copy_of_a_queued_name_is_numbered(start_emulator,
                                                    upfs_mount):
    """A second report.pdf printed while the first is still queued, which
    has to wait (every create answered 503), lists as "report ~2.pdf"
    beside it from the start, the name its job keeps once printed; two
    more waiting at once are "report ~3.pdf" and "report ~4.pdf"; one
    written over the job "report ~2.pdf" is "report ~2 ~2.pdf". Never two
    entries of one name, and a document is renamed by the name it is
    listed under."""
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    mount = upfs_mount(emu)
    mount.expect_warning(r"503")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    path = os.path.join(queue, "report.pdf")
    before = job_ids(emu, share["id"])
    docs = [make_pdf("copy %d" % i, (100 + 20 * i) * 1024) for i in range(4)]
    assert write_and_close(path, docs[0]) == ("ok", 0)
    first = assert_printed_once(emu, share["id"], before, "report.pdf",
                                docs[0])

    emu.set_faults("503:1,method=POST,route=/jobs$")
    assert write_and_close(path, docs[1]) == ("ok", 0)  # a new job's bytes
    assert sorted(os.listdir(queue)) == ["report ~2.pdf", "report.pdf"]
    assert xattr(path, "id") == first["id"]
    waiting = os.path.join(queue, "report ~2.pdf")
    assert xattr(waiting, "state") == "waiting"
    assert util.read_bytes(waiting) == docs[1]
    emu.set_faults("")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=15,
                    what="the waiting copy to be sent")
    second = assert_printed_once(emu, share["id"], before | {first["id"]},
                                 "report.pdf", docs[1])
    assert sorted(os.listdir(queue)) == ["report ~2.pdf", "report.pdf"]
    assert xattr(waiting, "id") == second["id"]

    emu.set_faults("503:1,method=POST,route=/jobs$")
    for data in docs[2:]:
        assert write_and_close(path, data) == ("ok", 0)
    names = ["report ~2.pdf", "report ~3.pdf", "report ~4.pdf",
             "report.pdf"]
    assert sorted(os.listdir(queue)) == names
    for name, data in (("report ~3.pdf", docs[2]),
                       ("report ~4.pdf", docs[3])):
        assert xattr(os.path.join(queue, name), "state") == "waiting"
        assert util.read_bytes(os.path.join(queue, name)) == data
    emu.set_faults("")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=15,
                    what="both waiting copies to be sent")
    jobs = {j["id"]: j for j in new_jobs(emu, share["id"], before)}
    assert sorted(j["sha256"] for j in jobs.values()) == sorted(
        sha256(d) for d in docs), jobs
    assert sorted(os.listdir(queue)) == names
    for name in names:
        job = jobs[xattr(os.path.join(queue, name), "id")]
        assert job["size"] == os.stat(os.path.join(queue, name)).st_size
    assert {xattr(os.path.join(queue, n), "id") for n in names} == set(jobs)

    # Written over the job listed as "report ~2.pdf": a document of that
    # name, which the numbering passes over, not a second entry of it.
    emu.set_faults("503:1,method=POST,route=/jobs$")
    fifth = make_pdf("over a numbered job", 90 * 1024)
    assert write_and_close(os.path.join(queue, "report ~2.pdf"), fifth) == \
        ("ok", 0)
    names = sorted(names + ["report ~2 ~2.pdf"])
    assert sorted(os.listdir(queue)) == names
    assert util.read_bytes(os.path.join(queue, "report ~2 ~2.pdf")) == fifth
    emu.set_faults("")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=15,
                    what="the fifth to be sent")
    assert sorted(os.listdir(queue)) == names
    assert util.read_bytes(os.path.join(queue, "report ~2 ~2.pdf")) == fifth

    # A document being written over the job's name is renamed by the
    # name it is listed under.
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, docs[0])
        assert "report ~5.pdf" in pending_entries(queue)
        os.rename(os.path.join(queue, "report ~5.pdf"),
                  os.path.join(queue, "renamed.pdf"))
    finally:
        os.close(fd)
    assert util.read_bytes(os.path.join(queue, "renamed.pdf")) == docs[0]
    assert sorted(os.listdir(queue)) == sorted(names + ["renamed.pdf"])


def test_offline_mount_spools_and_sends_after_remount(start_emulator,
                                                      upfs_mount, workdir):
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    share = emu.share_by_name(SHARE)
    mount, cache = mount_offline_warm(emu, upfs_mount)
    queue = mount.p("shares", SHARE, "queue")
    emu.reset_requests()
    data = make_pdf("offline option")
    src = write_file(os.path.join(workdir, "off.pdf"), data)
    before = job_ids(emu, share["id"])
    util.run(["cp", src, queue + "/"])
    attrs = local_attrs(os.path.join(queue, "off.pdf"))
    assert attrs["state"] == "waiting" and attrs["reason"], attrs
    status = mount.status()
    assert status["state"] == "offline" and \
        status["offline_option"] == "yes", status
    time.sleep(2.5)         # past the first retry's back-off
    assert emu.request_total() == 0, emu.requests()
    assert new_jobs(emu, share["id"], before) == []
    mount.unmount()

    mount = upfs_mount(emu, cache_dir=cache)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: new_jobs(emu, share["id"], before), timeout=15,
                    what="the job of the document spooled offline")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=15,
                    what="the submission to finish")
    assert_printed_once(emu, share["id"], before, "off.pdf", data)
    assert_no_open_uploads(emu)


# --- transient failures: faults ----------------------------------------------

def check_exactly_once(emu, mount, share_id, before, docs, required=None,
                       refused=()):
    """Every document of `docs` ({name: bytes}) in `required` (default: all)
    printed exactly once with its bytes and name, none in `refused` (their
    close() failed) printed at all; no other job left (none waiting for
    its document); no open upload session. Collects every problem before
    failing, with the daemon's adoption log lines."""
    required = set(docs) if required is None else set(required)
    jobs = new_jobs(emu, share_id, before)
    want = {sha256(d): n for n, d in docs.items()}
    problems = []
    # A job cannot be deleted, only cancelled: a cancelled blank job (a
    # duplicate create cleaned up) never prints; one left waiting is a leak.
    blank = [j["id"] for j in jobs
             if j["sha256"] is None and j["state"] != "canceled"]
    if blank:
        problems.append("%d jobs never got their document (left paused/"
                        "uploadPending, orphans of a create): %s"
                        % (len(blank), blank))
    by_sha = {}
    for j in jobs:
        if j["sha256"] is not None:
            by_sha.setdefault(j["sha256"], []).append(j)
    dups = {want.get(k, k): [j["id"] for j in v]
            for k, v in by_sha.items() if len(v) > 1}
    if dups:
        problems.append("printed more than once: %s" % dups)
    foreign = [j["id"] for k, v in by_sha.items() if k not in want for j in v]
    if foreign:
        problems.append("jobs with bytes of no source document: %s" % foreign)
    missing = sorted(want[s] for s in set(want) - set(by_sha)
                     if want[s] in required)
    printed = sorted(j["id"] for k, v in by_sha.items() for j in v
                     if want.get(k) in refused and j["state"] in STARTED)
    if printed:
        problems.append("printed although close() failed: %s" % printed)
    if missing:
        problems.append("never printed: %s" % missing)
    for k, v in by_sha.items():
        for j in v:
            # A refused document's job may be one upfs cancelled (its
            # start refused for good): it never prints.
            refused = want.get(k) not in required and \
                j["state"] == "canceled"
            if k in want and (j["documentName"] != want[k]
                              or (j["state"] not in STARTED and
                                  not refused)):
                problems.append("wrong name or state: %s" % j)
    open_uploads = emu.uploads()
    if open_uploads:
        problems.append("open upload sessions: %s" % open_uploads)
    if problems:
        notes = [line for line in mount.log().splitlines()
                 if "adopting" in line or "lost" in line]
        pytest.fail("%d jobs for %d documents:\n  %s\n--- adoption log "
                    "lines ---\n  %s" % (len(jobs), len(docs),
                                          "\n  ".join(problems),
                                          "\n  ".join(notes[:40])),
                    pytrace=False)
    return jobs


# A Retry-After holds every request of the mount for its seconds (one
# gate per client, test_throttle.py): rarer here, or 200 documents would
# spend minutes waiting; the same rates of 429/503 come without it.
FAULTS = ("429:0.01:1,503:0.01:1,429:0.04,503:0.04,reset:0.05,drop:0.05")
N_FAULTY = int(os.environ.get("UPFS_TEST_PRINT_N", "200"))


def test_faults_every_document_exactly_once(start_emulator, upfs_mount,
                                            workdir):
    emu = start_emulator(faults=FAULTS)
    mount = upfs_mount(emu)
    for rx in (r"service unreachable", r"HTTP 429", r"HTTP 503",
               r"'doc-\d+\.pdf': "):
        mount.expect_warning(rx)
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: os.path.isdir(queue), timeout=30,
                    what="queue/ under faults")
    before = job_ids(emu, share["id"])
    docs = {}
    for i in range(N_FAULTY):
        name = "doc-%03d.pdf" % i
        data = make_pdf(name, 8 * 1024 + 97 * i)
        docs[name] = data
        write_file(os.path.join(workdir, name), data)
    failures = []
    names = sorted(docs)

    def writer(part):
        for name in part:
            rc = subprocess.run(["cp", os.path.join(workdir, name),
                                 queue + "/"], capture_output=True,
                                text=True, timeout=util.scaled(120))
            if rc.returncode != 0:
                failures.append((name, rc.stderr.strip()))

    t0 = time.monotonic()
    threads = [threading.Thread(target=writer, args=(names[k::4],))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took_cp = time.monotonic() - t0
    assert failures == [], "cp failed under transient faults: %s" % failures
    util.wait_until(lambda: pending_entries(queue) == [], timeout=120,
                    interval=0.5, what="every submission to finish")
    print("%d documents: cp's done in %.1fs, all started after %.1fs"
          % (N_FAULTY, took_cp, time.monotonic() - t0))
    emu.set_faults("")

    check_exactly_once(emu, mount, share["id"], before, docs)
    assert_no_open_uploads(emu)


# --- kill -9 of upfs in the middle of uploads --------------------------------

CACHE_HEADER_LEN = 8


def unflushed_store(cache_dir):
    """The folder of the spool's log of records nothing was promised on
    yet (written without a flush, read only in the boot that wrote it)."""
    return os.path.join(cache_dir, "spool", ".unflushed")


def unflushed_log(cache_dir):
    """The unflushed log as a mount of this boot reads it (fs/unflushed.c):
    ({id: record text}, lines it cannot read, whether its last line was
    cut short). One line per change: "ID\tTEXT" puts, "ID" deletes; a log
    with a line that cannot be read is not trusted at all."""
    path = os.path.join(unflushed_store(cache_dir), "log")
    if not os.path.exists(path):
        return {}, 0, False
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    tail = lines.pop()
    records, bad = {}, 0
    for line in lines:
        key, tab, text = line.partition(b"\t")
        if not re.fullmatch(rb"[0-9a-z-]{1,63}", key) or (tab and not text):
            bad += 1
        elif tab:
            records[key.decode()] = text.decode()
        else:
            records.pop(key.decode(), None)
    return {} if bad else records, bad, tail != b""


def outbox_records(cache_dir):
    """Every submission record of a (dead) upfs, {id: record}: the outbox
    table of its LMDB, and the spool's unflushed log (a record in both is
    the outbox's)."""
    records = {key: json.loads(text)
               for key, text in unflushed_log(cache_dir)[0].items()}
    records.update(lmdb_records(cache_dir, "outbox"))
    return records


def lmdb_values(cache_dir, table):
    """One table of upfs's LMDB, {key: value bytes}, read with mdb_dump in
    its hex form (the printable form escapes bytes in ways that are easy
    to misread)."""
    proc = subprocess.run(["mdb_dump", "-s", table, cache_dir],
                          capture_output=True)
    if proc.returncode != 0:
        raise AssertionError("mdb_dump: %s" % proc.stderr.decode())
    lines = proc.stdout.decode("ascii").splitlines()
    data = lines[lines.index("HEADER=END") + 1:lines.index("DATA=END")]
    return {bytes.fromhex(key.strip()).decode(): bytes.fromhex(value.strip())
            for key, value in zip(data[0::2], data[1::2])}


def lmdb_records(cache_dir, table):
    """One table of upfs's LMDB, {key: JSON record}."""
    # cache/store.c: 8 bytes of fetch time, then the record.
    return {key: json.loads(raw[CACHE_HEADER_LEN:].rstrip(b"\0"))
            for key, raw in lmdb_values(cache_dir, table).items()}


def lmdb_put_value(cache_dir, table, key, value):
    """Writes value (bytes, header and all) under key of a dead upfs's
    LMDB with mdb_load."""
    dump = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n" \
        " %s\n %s\nDATA=END\n" % (key.encode().hex(), value.hex())
    proc = subprocess.run(["mdb_load", "-s", table, cache_dir],
                          input=dump.encode(), capture_output=True)
    if proc.returncode != 0:
        raise AssertionError("mdb_load: %s" % proc.stderr.decode())


def lmdb_put_record(cache_dir, table, key, record):
    """Writes record (JSON) under an existing key of a dead upfs's LMDB
    with mdb_load, keeping the value's header."""
    header = lmdb_values(cache_dir, table)[key][:CACHE_HEADER_LEN]
    lmdb_put_value(cache_dir, table, key,
                   header + json.dumps(record).encode())


def this_boot():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def another_boot():
    return "0" * 8 + this_boot()[8:]


def as_left_by_another_boot(cache_dir):
    """Makes a dead upfs's records look as a crash of the machine (not only
    of upfs) leaves them: every outbox record that names this boot's page
    cache names another boot's (its unflushed spool file may have lost its
    bytes), and the spool's unflushed log is another boot's."""
    for key, record in lmdb_records(cache_dir, "outbox").items():
        if record.get("unflushedBoot") == this_boot():
            record["unflushedBoot"] = another_boot()
            lmdb_put_record(cache_dir, "outbox", key, record)
    boot = os.path.join(unflushed_store(cache_dir), "boot")
    if os.path.isfile(boot):
        with open(boot, "w") as f:
            f.write(another_boot())


def spool_files(cache):
    return sorted(n for n in os.listdir(os.path.join(cache, "spool"))
                  if not n.startswith("."))


def test_kill_9_mid_write_leaves_no_spool_file(start_emulator, upfs_mount):
    """A document still being written when upfs dies was never handed over
    (its close() fails): the next mount removes its spool file, which
    nothing would ever send, and makes no job of it."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    fd = os.open(os.path.join(queue, "half.pdf"), os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, make_pdf("half.pdf", 100000)[:50000])
        assert len(spool_files(cache)) == 1
        mount.proc.send_signal(signal.SIGKILL)
        mount.wait_exit()
    finally:
        with pytest.raises(OSError):
            os.close(fd)
    assert util.unmount_path(mount.path)
    assert outbox_records(cache) == {}

    mount = upfs_mount(emu, cache_dir=cache)
    assert spool_files(cache) == []
    assert "its document was never handed over" in mount.log()
    assert os.listdir(mount.p("shares", SHARE, "queue")) == []
    assert job_ids(emu, share["id"]) == before


@pytest.mark.parametrize("waited,job_gone,machine_crash", [
    (False, False, False), (False, True, False), (False, False, True),
    (True, False, False), (True, True, False), (True, False, True)])
def test_kill_9_after_a_start_leaves_a_record_found_started(
        start_emulator, upfs_mount, workdir, waited, job_gone,
        machine_crash):
    """A job's start was carried out, and upfs was killed before its record
    went. Either it was killed while the start's reply was on its way (the
    cp fails; the record, STARTING, is in the spool's unflushed log), or
    the document had waited in the spool (offline) and a remount started
    it: a started job's outbox record is deleted with the next commit, not
    with a flush of its own. The next mount asks the job, finds it started
    (or gone: finished and purged) and drops the record: one job, one
    start, nothing pending, no refusal. After a crash of the machine the
    unflushed log is dropped unread (the job started all the same); the
    waiting document's record and bytes were flushed, so it is the same."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    data = make_pdf("once.pdf", 50000)
    # Long TTLs: no refresh writes to the cache (committing the delete)
    # between the start and the kill.
    ttls = ["dir_ttl=3600", "status_ttl=3600"]
    before = job_ids(emu, share["id"])
    if waited:
        mount, cache = mount_offline_warm(emu, upfs_mount)
        assert write_and_close(os.path.join(mount.p("shares", SHARE, "queue"),
                                            "once.pdf"), data) == ("ok", 0)
        mount.unmount()
        mount = upfs_mount(emu, cache_dir=cache, options=ttls)
    else:
        emu.set_faults("slow:1:3,method=POST,route=/start$")
        mount = upfs_mount(emu, options=ttls)
        cache = mount.cache_dir
        cp = subprocess.Popen(["cp", write_file(os.path.join(workdir,
                                                             "once.pdf"),
                                                data),
                               mount.p("shares", SHARE, "queue") + "/"],
                              stderr=subprocess.PIPE)
    util.wait_until(lambda: [j for j in new_jobs(emu, share["id"], before)
                             if j["state"] in STARTED], timeout=30,
                    what="the job to start")
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    if not waited:
        assert cp.wait(timeout=util.scaled(30)) != 0
    assert util.unmount_path(mount.path)
    records = outbox_records(cache)
    assert [r["state"] for r in records.values()] == ["starting"], records
    assert bool(lmdb_records(cache, "outbox")) == waited
    emu.set_faults("")
    if machine_crash:
        as_left_by_another_boot(cache)
    if job_gone:
        [job] = new_jobs(emu, share["id"], before)
        emu.delete_job(job["id"])

    emu.reset_requests()
    mount = upfs_mount(emu, cache_dir=cache)
    if machine_crash and not waited:
        assert "was another boot's: dropped unread" in mount.log()
    else:
        util.wait_until(lambda: emu.requests()["routes"].get(
            "GET /print/shares/{id}/jobs/{jid}"), timeout=30,
            what="the leftover record's job to be asked")
    util.wait_until(lambda: pending_entries(
        mount.p("shares", SHARE, "queue")) == [], timeout=30,
        what="nothing pending")
    mount.unmount()
    assert outbox_records(cache) == {}
    assert "POST /print/shares/{id}/jobs/{jid}/start" not in \
        emu.requests()["routes"], emu.requests()
    # unmount() fails on any warning (a refusal) in the daemon's log.
    if job_gone:
        assert new_jobs(emu, share["id"], before) == []
    else:
        assert_printed_once(emu, share["id"], before, "once.pdf", data)


def test_second_mount_on_one_cache_dir_is_refused(start_emulator, upfs_mount,
                                                  workdir):
    """Two mounts on one cache would each resume the other's documents
    (printing them twice) and remove the other's half-written files."""
    emu = start_emulator()
    first = upfs_mount(emu)
    other = util.Mount(emu, workdir, cache_dir=first.cache_dir)
    try:
        proc = subprocess.run(other.command(), capture_output=True,
                              text=True, env=other.env,
                              stdin=subprocess.DEVNULL,
                              timeout=util.scaled(30))
    finally:
        if other.is_mounted():
            util.unmount_path(other.path)
    assert proc.returncode != 0
    assert "is in use by another upfs" in proc.stdout + proc.stderr
    assert not other.is_mounted()
    assert SHARE in os.listdir(first.p("shares"))


def kill_mid_hand_over(mount, procs):
    """kill -9 of the daemon while procs ({name: Popen}, one piped output
    each) hand documents over: {name: (exit code, that output)}, once the
    dead mount is gone."""
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    results = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=util.scaled(30))
        results[name] = (p.returncode, (out or err or "").strip())
    assert util.unmount_path(mount.path)
    return results


def test_kill_9_mid_upload_resumes_exactly_once(start_emulator, upfs_mount,
                                                workdir):
    """Half the upload PUTs take 3 s, so at the kill (2 s in) some cp's have
    returned 0, some closes are mid-upload (their outbox record exists) and
    some never reached the spool step (their cp gets ENOTCONN and their
    document may be lost: it was never handed over)."""
    emu = start_emulator(faults="slow:0.5:3,method=PUT,route=/uploadSessions/")
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    queue = mount.p("shares", SHARE, "queue")
    assert os.listdir(queue) == []
    before = job_ids(emu, share["id"])
    docs = {}
    for i in range(20):
        name = "k-%02d.pdf" % i
        docs[name] = make_pdf(name, 600 * 1024 + i)
        write_file(os.path.join(workdir, name), docs[name])
    procs = {name: subprocess.Popen(["cp", os.path.join(workdir, name),
                                     queue + "/"],
                                    stderr=subprocess.PIPE, text=True)
             for name in sorted(docs)}
    time.sleep(2)
    results = kill_mid_hand_over(mount, procs)
    records = outbox_records(cache)
    spooled = {r["name"] for r in records.values()}
    ok = {n for n, (rc, _) in results.items() if rc == 0}
    print("at kill -9: %d cp's had returned 0, %d outbox records %s"
          % (len(ok), len(spooled), sorted(r["state"]
                                           for r in records.values())))
    for name, (rc, err) in results.items():
        if rc != 0:
            assert "Transport endpoint is not connected" in err or \
                "Software caused connection abort" in err, (name, err)
    emu.set_faults("")

    mount = upfs_mount(emu, cache_dir=cache)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the spooled submissions to finish")
    for name in ok | spooled:
        assert name in docs
    check_exactly_once(emu, mount, share["id"], before, docs,
                       required=ok | spooled)


RENAME_AND_REPORT = """
import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as exc:
    print(exc.errno)
    sys.exit(1)
"""


def test_kill_9_mid_rename_prints_once_with_its_options(start_emulator,
                                                        upfs_mount, workdir):
    """rsync's way: each document written under a dot name with its own
    options (copies=2 to 4) set on it, then renamed into place, all at
    once, while half the job creates and upload PUTs take 3 s. Killed
    once three renames
    returned: a rename that returned 0, and any document whose record was
    spooled, prints exactly once after the next mount, with its own
    options. (The document in flight has made its job by then; options
    read back from a waiting record: test_cups.py's kill -9 test.)"""
    emu = start_emulator(faults="slow:0.5:3,method=POST,route=/jobs$;"
                         "slow:0.5:3,method=PUT,route=/uploadSessions/")
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    docs, copies = {}, {}
    for i in range(16):
        name = "r-%02d.pdf" % i
        docs[name] = make_pdf(name, 400 * 1024 + i)
        fd = os.open(os.path.join(queue, "." + name),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            copies[name] = 2 + i % 3
            os.setxattr(fd, "user.upfs.options",
                        b"copies=%d\n" % copies[name])
            os.write(fd, docs[name])
        finally:
            os.close(fd)
    procs = {name: subprocess.Popen(
        [sys.executable, "-c", RENAME_AND_REPORT,
         os.path.join(queue, "." + name), os.path.join(queue, name)],
        stdout=subprocess.PIPE, text=True) for name in sorted(docs)}
    # The kernel renames in one folder one at a time, and each rename
    # hands its document over: kill once a few have returned.
    util.wait_until(lambda: sum(p.poll() is not None
                                for p in procs.values()) >= 3,
                    timeout=60, what="three renames to return")
    results = kill_mid_hand_over(mount, procs)
    spooled = {r["name"] for r in outbox_records(cache).values()}
    ok = {n for n, (rc, _) in results.items() if rc == 0}
    print("at kill -9: %d renames had returned 0, records of %s"
          % (len(ok), sorted(spooled)))
    for name, (rc, err) in results.items():
        if rc != 0:
            assert err in (str(errno.ENOTCONN), str(errno.ECONNABORTED)), \
                (name, err)
    emu.set_faults("")

    mount = upfs_mount(emu, cache_dir=cache)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: [n for n in pending_entries(queue)
                             if not n.startswith(".")] == [],
                    timeout=30, what="the spooled submissions to finish")
    check_exactly_once(emu, mount, share["id"], before, docs,
                       required=ok | spooled)
    want = {sha256(d): n for n, d in docs.items()}
    for job in new_jobs(emu, share["id"], before):
        name = want.get(job["sha256"])
        if name is None or job["state"] == "canceled":
            continue
        got = emu.job(job["id"])["configuration"].get("copies")
        assert got == copies[name], (name, got)


def mount_dropping_creates(start_emulator, upfs_mount, rate, warning,
                           extra_args=None):
    """An emulator that drops the reply of a share of job creates (rate)
    after making the job, and a mount that may warn of them: (emulator,
    mount, SHARE, its queue/, its jobs before)."""
    emu = start_emulator(faults="drop:%s,method=POST,route=/jobs$" % rate,
                         extra_args=extra_args or ())
    mount = upfs_mount(emu)
    mount.expect_warning(r"service unreachable|" + warning)
    share = emu.share_by_name(SHARE)
    return (emu, mount, share, mount.p("shares", SHARE, "queue"),
            job_ids(emu, share["id"]))


def test_lost_creates_each_adopt_the_job_made_with_their_options(
        start_emulator, upfs_mount, workdir):
    """Five documents with their own copies= are created at once and every
    create's reply is lost (`drop`): five blank jobs, one per document.
    The first to reconcile must adopt the one made with its options (and
    cancel the others, whose documents then create again), not simply
    the oldest, which may be another document's."""
    emu, mount, share, queue, before = mount_dropping_creates(
        start_emulator, upfs_mount, 1, r"'lost-\d\.pdf': ")
    docs = {}
    for i in range(5):
        name = "lost-%d.pdf" % i
        docs[name] = (make_pdf(name, 8192 + i), i + 1)
        dot = os.path.join(queue, "." + name)
        write_file(dot, docs[name][0])
        os.setxattr(dot, "user.upfs.options", b"copies=%d\n" % (i + 1))

    def submit(name):
        os.rename(os.path.join(queue, "." + name), os.path.join(queue, name))

    threads = [threading.Thread(target=submit, args=(n,)) for n in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    util.wait_until(lambda: len(new_jobs(emu, share["id"], before)) >= 5,
                    timeout=15, what="five creates")
    emu.set_faults("")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    interval=0.5, what="every submission to finish")
    assert "adopting job" in mount.log()
    for name, (data, copies) in docs.items():
        others = {j["id"] for j in new_jobs(emu, share["id"], before)
                  if j.get("documentName") != name}
        job = assert_printed_once(emu, share["id"], before | others, name,
                                  data)
        assert job["configuration"]["copies"] == copies, (name, job)


def test_dropped_job_create_is_reconciled_not_repeated(start_emulator,
                                                       upfs_mount, workdir):
    """`drop` does the work, then closes the connection without a reply:
    the job exists but upfs never heard of it. The next attempt must adopt
    that job, not make another (design §3.3), so no blank job is left."""
    emu, mount, share, queue, before = mount_dropping_creates(
        start_emulator, upfs_mount, 0.3, r"'drop-\d+\.pdf': ",
        extra_args=["--verbose"])
    docs = {}
    for i in range(20):
        name = "drop-%02d.pdf" % i
        docs[name] = make_pdf(name, 4096 + i)
        util.run(["cp", write_file(os.path.join(workdir, name), docs[name]),
                  queue + "/"])
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    interval=0.5, what="every submission to finish")
    emu.set_faults("")
    creates = emu.requests()["routes"].get("POST /print/shares/{id}/jobs")
    dropped = emu.stderr_text().count("reset by fault")
    print("20 documents: %s job creates sent, %d dropped, %d adoptions"
          % (creates, dropped, mount.log().count("adopting job")))
    check_exactly_once(emu, mount, share["id"], before, docs)


def test_a_lost_create_is_adopted_when_job_lists_leave_out_who_made_them(
        start_emulator, upfs_mount, workdir):
    """The reference's job-list example has createdBy {}: a listed blank
    job says nothing of who made it, so the job's own GET must. The lost
    create's job is adopted, or cancelled once a create sent again made
    another; it was neither: the blank job stayed paused."""
    emu, mount, share, queue, before = mount_dropping_creates(
        start_emulator, upfs_mount, 1, r"'unsaid\.pdf': ")
    emu.call("POST", "/_emulator", {"listsOmitCreatedBy": True})
    emu.set_faults("drop:1,method=POST,route=/jobs$,times=1")
    data = make_pdf("unsaid", 6000)
    util.run(["cp", write_file(os.path.join(workdir, "unsaid.pdf"), data),
              queue + "/"])
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the document to be sent")
    log = mount.log()
    assert "adopting job" in log or "cancelling job" in log, log
    check_exactly_once(emu, mount, share["id"], before,
                       {"unsaid.pdf": data})


@pytest.mark.parametrize("skew", [0, 3600])
def test_a_lost_create_leaves_another_clients_blank_job_alone(
        start_emulator, upfs_mount, workdir, skew):
    """The same user prints from another machine: its job, made two
    minutes ago, is blank while its upload is under way. A create of this
    mount's whose reply is lost adopts the job the service made while
    that create was in flight, by the time the service stamped it (by its
    own clock, which in one case is an hour ahead of this machine's),
    and cancels any other it made: the other client's job is neither
    taken nor cancelled."""
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    if skew:
        emu.call("POST", "/_emulator", {"clockSkewSeconds": skew})
    mount = upfs_mount(emu)
    mount.expect_warning(r"service unreachable|'mine\.pdf': ")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    assert write_and_close(os.path.join(queue, "first.pdf"),
                           make_pdf("first")) == ("ok", 0)
    [first] = new_jobs(emu, share["id"], before)
    service_now = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=skew)
    made = service_now - datetime.timedelta(seconds=120)
    other = emu.add_job(shareId=share["id"], upn=first["createdBy"],
                        state="paused", details=["uploadPending"],
                        documentName="", size=0,
                        createdDateTime=made.strftime(
                            "%Y-%m-%dT%H:%M:%S.0000000Z"))
    before |= {first["id"], other["id"]}
    # Dropped twice: libcurl sends a POST again by itself once when a
    # reused connection dies before the reply, so one or two jobs are
    # made and no reply comes: one is adopted, any other cancelled.
    emu.set_faults("drop:1,method=POST,route=/jobs$,times=2")
    data = make_pdf("mine", 50 * 1024)
    util.run(["cp", write_file(os.path.join(workdir, "mine.pdf"), data),
              queue + "/"])
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the document to be sent")
    assert "adopting job" in mount.log()
    check_exactly_once(emu, mount, share["id"], before, {"mine.pdf": data})
    left = emu.job(other["id"])
    assert left["state"] == "paused" and left["size"] == 0, left


def test_a_lost_create_leaves_no_blank_job_whatever_id_another_share_holds(
        start_emulator, upfs_mount):
    """The service numbers jobs per printer: the job a lost create made
    may have the id of a job a document waiting for another share holds.
    It is still found and cancelled (the create was sent again): one job
    prints the document, none is left blank."""
    h = held_beside_annex(start_emulator, upfs_mount)
    emu = h.emu
    emu.patch_printer(h.printer["id"], nextJobId=h.held["id"])
    emu.set_faults("%s;drop:1,method=POST,route=/shares/%s/jobs$,times=1"
                   % (h.held_fault, h.annex["id"]))
    data = make_pdf("annex")
    assert write_and_close(os.path.join(h.annex_queue, "annex.pdf"),
                           data) == ("ok", 0)
    util.wait_until(lambda: pending_entries(h.annex_queue) == [],
                    timeout=30, what="the annex document to be sent")
    jobs = {j["key"]: j for j in emu.jobs(shareId=h.annex["id"])}
    lost = jobs.pop(h.held["id"] + "@" + h.printer["id"])
    assert lost["state"] == "canceled", lost
    [job] = jobs.values()
    assert job["state"] in STARTED and job["sha256"] == sha256(data), job
    assert emu.job_document(job["key"])["sha256"] == sha256(data)
    assert held_is_waiting(h)
    held_prints_once(h)


def test_two_closes_of_one_file_at_once_print_it_once(emulator, upfs_mount):
    """Two descriptors of one queue/ file (dup) closed at the same moment
    from two threads: one close hands the document over, the other finds
    it handed over and returns 0 too. Each close() is a FLUSH, and a
    second one that looked before the first one claimed the document used
    to hand it over again once the first had finished (its spool file gone
    or another document's): close() failed and .upfs/status named a
    refusal of a document that printed."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emulator, share["id"])
    names = []
    # The two FLUSHes meet in a window of microseconds: before the fix,
    # each of three runs met it within 300 tries (at the 23rd to 105th).
    for i in range(300):
        name = "twice-%03d.pdf" % i
        names.append(name)
        fd = os.open(os.path.join(queue, name),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, make_pdf(name, 2048))
        fds = [fd, os.dup(fd)]
        start = threading.Barrier(2)
        errors = []

        def close(d):
            start.wait()
            try:
                os.close(d)
            except OSError as exc:
                errors.append(exc)
        threads = [threading.Thread(target=close, args=(d,)) for d in fds]
        for t in threads:
            t.start()
        for t in threads:
            t.join(util.scaled(60))
        assert not any(t.is_alive() for t in threads), name
        assert errors == [], (name, errors)
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="every document to be handed over")
    jobs = new_jobs(emulator, share["id"], before)
    assert sorted(j["documentName"] for j in jobs) == names, jobs
    assert "refus" not in json.dumps(mount.status()), mount.status()


# --- shares/<s>/options ------------------------------------------------------

@pytest.mark.parametrize("text,reason", [
    ("copies=abc\n", "copies"),
    ("copies\n", "key=value"),
    ("colour=color\n", "colour"),
    ("color=color\n", "color"),          # a monochrome printer
    ("media=A0\n", "media"),
    ("copies=2\x00\n", ""),
])
def test_a_bad_options_file_is_einval_and_keeps_the_old(emulator,
                                                        upfs_mount, text,
                                                        reason):
    """Floor3's printer prints in black and white, on A4 and Letter. A
    value it does not take, or a line that is not key=value, fails close()
    with EINVAL, the file keeps what it held, the reason is in
    .upfs/status, and the next document carries the old options."""
    mount = upfs_mount(emulator)
    path = mount.p("shares", SHARE, "options")
    assert util.close_errno(path, "copies=2\n") == 0
    mount.expect_warning(r"options of share .* refused")
    assert util.close_errno(path, text) == errno.EINVAL
    assert util.read_text(path) == "copies=2\n"
    last = mount.status()["last_error"]
    assert "options" in last and reason in last, last
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf("after a refused edit")
    with open(os.path.join(mount.p("shares", SHARE, "queue"), "o.pdf"),
              "wb") as fh:
        fh.write(data)
    job = assert_printed_once(emulator, share["id"], before, "o.pdf", data)
    assert job["configuration"].get("copies") == 2, job["configuration"]


def test_a_start_that_reached_nothing_is_refused_after_a_remount(
        start_emulator, upfs_mount):
    """A start the service throttled (a 429: it did nothing) leaves the
    document waiting in STARTING, its record saying that no start may
    have reached the service. When the next mount's start is refused,
    that is a refusal: the document is reported not printed and its job
    cancelled, not taken for a second start whose first was printed,
    which would drop it unprinted and say nothing."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    data = make_pdf("throttled.pdf", 50000)
    emu.set_faults("429:1:3600,method=POST,route=/start$")
    mount = upfs_mount(emu)
    mount.expect_warning(r".")
    queue = mount.p("shares", SHARE, "queue")
    assert write_and_close(os.path.join(queue, "throttled.pdf"), data) == \
        ("ok", 0)
    assert local_attrs(os.path.join(queue, "throttled.pdf"))["state"] == \
        "waiting"
    cache = mount.cache_dir
    mount.unmount()
    [record] = outbox_records(cache).values()
    assert record["state"] == "starting", record
    assert record["startMaybeSent"] is False, record

    emu.set_faults("400:1,method=POST,route=/start$")
    emu.reset_requests()
    mount = upfs_mount(emu, cache_dir=cache)
    mount.expect_warning(r"'throttled\.pdf' refused: starting the job: "
                         r"HTTP 400")
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the document to be refused")
    assert emu.requests()["routes"].get(
        "POST /print/shares/{id}/jobs/{jid}/start") == 1, emu.requests()
    assert "second start" not in mount.log()
    [job] = new_jobs(emu, share["id"], before)
    assert job["state"] == "canceled", job
    assert mount.status()["last_error"] not in ("", "none")
    emu.set_faults("")
    mount.unmount()
    assert outbox_records(cache) == {}


def test_a_record_the_full_disk_refused_is_written_before_the_next_step(
        start_emulator, upfs_mount, small_tmpfs):
    """A document waits (the create met a 503); its next try creates the
    job, but the cache's disk is full and the record that says so cannot
    be written. That is no refusal (close() returned 0), and no further
    step is taken until the record is written: a job uploaded under a
    record still saying CREATING is not blank, so after a remount the
    lost create's job would not be found and another would be made, the
    first left paused with its document. With room again, one job
    prints, and no other is left."""
    emu = start_emulator()
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu, cache_dir=small_tmpfs)
    mount.expect_warning(r".")
    queue = mount.p("shares", SHARE, "queue")
    assert os.listdir(queue) == []                       # warm
    before = job_ids(emu, share["id"])
    data = make_pdf("record behind", 300 * 1024)
    emu.set_faults("503:1,method=POST,route=/jobs$")
    assert write_and_close(os.path.join(queue, "behind.pdf"), data) == \
        ("ok", 0)
    filler = os.path.join(small_tmpfs, "filler")
    fill(filler)
    emu.reset_requests()
    emu.set_faults("")

    util.wait_until(lambda: "waits in the spool: recording its state" in
                    mount.log(), timeout=30, what="a try that meets the "
                    "record it cannot write")
    assert len(new_jobs(emu, share["id"], before)) == 1
    time.sleep(3)       # another try, which must write the record first
    routes = emu.requests()["routes"]
    assert not [r for r in routes if "createUploadSession" in r or
                r.startswith("PUT ")], routes
    mount.unmount()
    os.unlink(filler)

    mount = upfs_mount(emu, cache_dir=small_tmpfs)
    mount.expect_warning(r".")
    util.wait_until(lambda: pending_entries(
        mount.p("shares", SHARE, "queue")) == [], timeout=60,
        what="the document to be sent")
    check_exactly_once(emu, mount, share["id"], before,
                       {"behind.pdf": data})
