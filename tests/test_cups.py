"""The CUPS backend `upfs` (packaging/cups, issue 11), run exactly as cupsd
runs it: argv[0] the device URI, then job-id user title copies options
[file], with DEVICE_URI and CONTENT_TYPE set and the document as a file or
on stdin. Against a real mount and the emulator: the device listing, a
job's bytes and configuration, each upfs errno as its CUPS exit code, and
the user's own mount, never another's. Then a real cupsd on a private port
and private folders: `upfsctl cups-sync` makes the queues, `lp` prints,
the job reaches the emulator byte-exact with its copies and sides, and
lpstat shows it completed."""

import errno
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.parse

import pytest

import util
from test_print import (STARTED, assert_printed_once, job_ids, make_pdf,
                        new_jobs, write_file)

OK, FAILED, AUTH_REQUIRED, HOLD, STOP, CANCEL, RETRY = range(7)
SHARE = "Floor3"                # printer Floor3 LaserJet: monochrome
SCHEME_LINE = 'network upfs "Unknown" "Universal Print share (upfs)"'
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:"
                          r"|^==\d+==", re.MULTILINE)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="acting as another user needs root, as "
                              "CUPS gives the backend")


def backend():
    path = os.path.join(util.build_dir(), "packaging", "cups", "upfs")
    if not os.access(path, os.X_OK):
        pytest.fail("no backend at %s: build first (tools/build) or set "
                    "UPFS_BUILD_DIR" % path)
    return path


def me():
    return pwd.getpwuid(os.getuid()).pw_name


def uri_of(mountpoint, share):
    """The device URI the backend makes: percent-encoded but for
    unreserved characters and the slashes of the mountpoint."""
    def q(text, safe):
        return urllib.parse.quote(text, safe=safe).replace("~", "%7E")
    return "upfs:%s/%s" % (q(mountpoint, "/"), q(share, ""))


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def lines(self, prefix):
        return [ln[len(prefix):].strip() for ln in self.err.splitlines()
                if ln.startswith(prefix)]

    def __repr__(self):
        return "exit %d\nstdout: %s\nstderr: %s" % (self.code, self.out,
                                                    self.err)


def run_backend(args=(), uri=None, data=None, file=None,
                content_type="application/pdf", timeout=60, as_user=None,
                wrap=None):
    """Runs the backend as cupsd does: argv[0] is the device URI (or the
    program for discovery), the environment is cupsd's kind (DEVICE_URI,
    CONTENT_TYPE, FINAL_CONTENT_TYPE), the document is argv[6] or
    stdin. as_user: as that user, as cupsd runs a backend others may
    run. wrap: the command line that runs the backend instead (its
    argv[0] is the program), for discover()."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("ASAN_", "UBSAN_", "LSAN_"))}
    env.update(PATH="/usr/bin:/bin", CUPS_SERVERBIN="/usr/lib/cups",
               PRINTER="test", LANG="C")
    if uri is not None:
        env.update(DEVICE_URI=uri, CONTENT_TYPE=content_type,
                   FINAL_CONTENT_TYPE=content_type)
    argv = [uri or backend()] + list(args) + ([file] if file else [])
    exe = backend()
    if as_user:
        pw = pwd.getpwnam(as_user)
        argv = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d"
                % pw.pw_gid, "--clear-groups", "--", exe] + argv[1:]
        exe = shutil.which("setpriv")
    if wrap:
        assert not as_user
        argv, exe = wrap, shutil.which(wrap[0])
    proc = subprocess.run(argv, executable=exe, input=data or b"",
                          capture_output=True, env=env,
                          timeout=util.scaled(timeout))
    res = Result(proc)
    assert not SANITIZER_RE.search(res.err), res
    return res


def discover(*mounts):
    """The device listing (the backend run without arguments), as root
    among these upfs mounts alone (alone_with)."""
    if os.geteuid() != 0:
        return run_backend()
    return run_backend(wrap=alone_with(mounts, [backend()]))


# Run by alone_with inside the new namespace, so that a mount made or
# removed meanwhile by a test beside it is seen as it is there.
DETACH_OTHERS = r"""
import os, re, subprocess, sys
args = sys.argv[1:]
keep, argv = set(args[:args.index("--")]), args[args.index("--") + 1:]
with open("/proc/self/mounts") as fh:
    for line in fh:
        field = line.split()
        path = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                      field[1])
        if field[2] == "fuse.upfs" and path not in keep:
            # One gone since the table was read needs nothing.
            subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)
os.execvp(argv[0], argv)
"""


def alone_with(mounts, argv):
    """argv, to run in a mount namespace of its own where every upfs
    mount of the machine but these is detached (as root). Tests running
    beside this one count the requests their own mounts make; a device
    discovery walking those mounts' shares would add to them. The kept
    mounts' daemons end only once every process of the namespace has
    (end_namespace)."""
    return (["unshare", "--mount", "--propagation", "private", "--",
             sys.executable, "-c", DETACH_OTHERS]
            + [m.path for m in mounts] + ["--"] + list(argv))


def namespace_of(pid):
    """The mount namespace of cupsd (pid), which alone_with gave its own:
    the same pid from unshare to cupsd, as neither forks."""
    ns = os.readlink("/proc/%d/ns/mnt" % pid)
    assert ns != os.readlink("/proc/self/ns/mnt"), "cupsd is in ours"
    return ns


def end_namespace(ns):
    """Kills what is left in mount namespace ns (cups-deviced, a backend
    or a filter cupsd left behind) and waits for it to be gone."""
    assert ns != os.readlink("/proc/self/ns/mnt")

    def members():
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink("/proc/%s/ns/mnt" % pid) == ns:
                    pids.append(int(pid))
            except OSError:
                pass            # gone meanwhile
        return pids

    for pid in members():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    util.wait_until(lambda: not members(), timeout=15,
                    what="the processes of cupsd's mount namespace to end")


def wait_started(emu, share_id, before, what, timeout=20):
    """Polls until a new job of the share has started (its upload done)."""
    util.wait_until(lambda: [j for j in new_jobs(emu, share_id, before)
                             if j["state"] in STARTED],
                    timeout=timeout, what=what)


def job(ident, title, options="", copies="1", user=None):
    return [str(ident), user or me(), title, copies, options]


def queue_dir(mount, share=SHARE):
    return mount.p("shares", share, "queue")


def dot_files(mount, share=SHARE):
    return [n for n in os.listdir(queue_dir(mount, share))
            if n.startswith(".")]


def spool_file(workdir, name, data):
    """A document as CUPS keeps it: in its spool, readable by root only."""
    path = write_file(os.path.join(workdir, name), data)
    os.chmod(path, 0o600)
    return path


def location_line(printer):
    loc = printer.get("location") or {}
    parts = [loc.get(k) for k in ("building", "floor", "roomName", "city",
                                  "countryOrRegion")]
    return ", ".join(p for p in parts if isinstance(p, str) and p)


def quoted(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def expected_device_lines(emu, mountpoint):
    state = emu.state(only=["shares", "printers"])
    printers = {p["id"]: p for p in state["printers"]}
    names = util.expected_names(state["shares"])
    lines = []
    for share in state["shares"]:
        printer = printers[share["printerId"]]
        make, model = printer["manufacturer"], printer["model"]
        mm = model if model.startswith(make) else "%s %s" % (make, model)
        loc = location_line(printer)
        name = names[share["id"]]
        info = "%s (%s)" % (name, loc) if loc else name
        lines.append("network %s %s %s \"\" %s" % (
            uri_of(mountpoint, name), quoted(mm), quoted(info), quoted(loc)))
    return sorted(lines)


# --- discovery ---------------------------------------------------------------

def test_device_listing_has_one_line_per_share(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    with open("/proc/self/mounts") as fh:
        types = [ln.split()[2] for ln in fh if ln.split()[1] == mount.path]
    assert types == ["fuse.upfs"], types
    res = discover(mount)
    assert res.code == OK, res
    lines = res.out.splitlines()
    assert lines[0] == SCHEME_LINE, res
    # Other upfs mounts of the machine are listed too: keep this one's.
    prefix = "network %s/" % uri_of(mount.path, "x").rsplit("/", 1)[0]
    mine = sorted(ln for ln in lines if ln.startswith(prefix))
    assert mine == expected_device_lines(emulator, mount.path)
    assert len(set(lines)) == len(lines), "a device is listed twice"


# --- jobs --------------------------------------------------------------------

def test_job_from_a_file_carries_its_options(emulator, upfs_mount, workdir):
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf("cups file job", 300 * 1024)
    src = spool_file(workdir, "d00042-001", data)
    options = ("finishings=3 media=iso_a4_210x297mm number-up=2 "
               "page-ranges=1-2 print-color-mode=monochrome "
               "orientation-requested=4 sides=two-sided-long-edge "
               "job-uuid=urn:uuid:52572be4 job-originating-host-name="
               "localhost date-time-at-creation= "
               "document-name-supplied=q.pdf Duplex=DuplexNoTumble "
               "PageSize=A4")
    res = run_backend(job(42, "Quarterly report", options, copies="3"),
                      uri_of(mount.path, SHARE), file=src)
    assert res.code == OK, res
    printed = assert_printed_once(emulator, share["id"], before,
                                  "Quarterly report.pdf", data,
                                  "application/pdf")
    assert printed["createdBy"] == "admin@contoso.com"
    config = printed["configuration"]
    assert {k: config[k] for k in (
        "copies", "duplexMode", "mediaSize", "pageRanges", "pagesPerSheet",
        "colorMode", "orientation")} == {
        "copies": 3, "duplexMode": "flipOnLongEdge", "mediaSize": "A4",
        "pageRanges": [{"start": 1, "end": 2}], "pagesPerSheet": 2,
        "colorMode": "blackAndWhite", "orientation": "landscape"}, config
    assert res.lines("STATE:") == ["+connecting-to-device",
                                   "-connecting-to-device"], res
    assert any("sent to share 'Floor3'" in ln and printed["id"] in ln
               for ln in res.lines("INFO:")), res
    assert res.lines("ERROR:") == [], res
    assert dot_files(mount) == []


def test_job_on_stdin_is_named_by_job_id_over_share_options(emulator,
                                                           upfs_mount):
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    with open(mount.p("shares", SHARE, "options"), "w") as fh:
        fh.write("copies=2\nduplex=flipOnShortEdge\nmedia=A4\n")
    before = job_ids(emulator, share["id"])
    data = make_pdf("cups stdin job")
    res = run_backend(job(43, "", "sides=one-sided number-up=1"),
                      uri_of(mount.path, SHARE), data=data)
    assert res.code == OK, res
    printed = assert_printed_once(emulator, share["id"], before,
                                  "job-43.pdf", data)
    config = printed["configuration"]
    # The share's options, with the job's own laid over them.
    assert (config["copies"], config["duplexMode"], config["mediaSize"],
            config["pagesPerSheet"]) == (2, "oneSided", "A4", None), config


def test_what_the_printer_lacks_is_left_out(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf("cups color on mono")
    res = run_backend(job(44, "mono.pdf", "print-color-mode=color "
                          "media=na_ledger_11x17in sides=two-sided-long-edge"),
                      uri_of(mount.path, SHARE), data=data)
    assert res.code == OK, res
    info = res.lines("INFO:")
    assert any(ln.startswith("upfs: print-color-mode=color left out: color:")
               for ln in info), res
    assert any(ln.startswith("upfs: media=North America Ledger left out:")
               for ln in info), res
    printed = assert_printed_once(emulator, share["id"], before, "mono.pdf",
                                  data)
    config = printed["configuration"]
    assert (config["colorMode"], config["mediaSize"],
            config["duplexMode"]) == (None, None, "flipOnLongEdge"), config


def test_the_options_xattr_is_checked_and_applied(emulator, upfs_mount):
    """The mechanism the backend uses, as any program may: the xattr
    user.upfs.options on a document not handed over yet."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = queue_dir(mount)
    before = job_ids(emulator, share["id"])
    mount.expect_warning(r"options of '\.memo\.pdf' refused")
    data = make_pdf("xattr options")
    fd = os.open(os.path.join(queue, ".memo.pdf"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for bad in (b"color=color\n", b"bogus=1\n", b"copies=two\n"):
            util.expect_errno(lambda: os.setxattr(fd, "user.upfs.options",
                                                  bad), errno.EINVAL)
        assert "options of '.memo.pdf' refused" in \
            mount.status()["last_error"]
        # setfattr -x drops them, and only once.
        os.setxattr(fd, "user.upfs.options", b"copies=9\n")
        os.removexattr(fd, "user.upfs.options")
        for call in (os.getxattr, os.removexattr):
            util.expect_errno(lambda: call(fd, "user.upfs.options"),
                              errno.ENODATA)
        os.setxattr(fd, "user.upfs.options", b"copies=4\nduplex=oneSided\n")
        assert os.getxattr(fd, "user.upfs.options") == \
            b"copies=4\nduplex=oneSided\n"
        os.write(fd, data)
        os.rename(os.path.join(queue, ".memo.pdf"),
                  os.path.join(queue, "memo.pdf"))
    finally:
        os.close(fd)
    printed = assert_printed_once(emulator, share["id"], before, "memo.pdf",
                                  data)
    assert (printed["configuration"]["copies"],
            printed["configuration"]["duplexMode"]) == (4, "oneSided")


def test_options_the_printer_could_not_check_are_checked_by_the_service(
        emulator, upfs_mount):
    """Options set while the share's printer cannot be read (a 500) are
    kept unchecked, so a document still spools; the service then refuses
    the job they would make, and the hand-over fails with EINVAL with no
    job left behind."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = queue_dir(mount)
    before = job_ids(emulator, share["id"])
    mount.expect_warning(r"HTTP 500")
    mount.expect_warning(r"'memo\.pdf' refused: creating the job: HTTP 400 "
                         r".*colorMode")
    emulator.set_faults("500:1,method=GET,route=/print/shares/%s$,times=50"
                        % share["id"])
    fd = os.open(os.path.join(queue, ".memo.pdf"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # Floor3 prints in black and white only.
        os.setxattr(fd, "user.upfs.options", b"color=color\n")
        assert emulator.requests()["routes"].get(
            "GET /print/shares/{id}", 0) > 0, "the share was not asked"
        os.write(fd, make_pdf("unchecked options"))
        emulator.set_faults("")
        util.expect_errno(lambda: os.rename(
            os.path.join(queue, ".memo.pdf"),
            os.path.join(queue, "memo.pdf")), errno.EINVAL)
    finally:
        os.close(fd)
    assert job_ids(emulator, share["id"]) == before
    assert "'memo.pdf' refused" in mount.status()["last_error"]


def test_options_the_service_refuses_to_check_are_eacces(emulator,
                                                         upfs_mount):
    """The share's printer cannot be read because the service refuses
    (403), not because it is down: the options are refused with EACCES,
    as the print would be, and none are kept."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = queue_dir(mount)
    mount.expect_warning(r"HTTP 403")
    emulator.set_faults("403:1,method=GET,route=/print/shares/%s$,times=50"
                        % share["id"])
    fd = os.open(os.path.join(queue, ".memo.pdf"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        util.expect_errno(lambda: os.setxattr(fd, "user.upfs.options",
                                              b"copies=2\n"), errno.EACCES)
        emulator.set_faults("")
        util.expect_errno(lambda: os.getxattr(fd, "user.upfs.options"),
                          errno.ENODATA)
    finally:
        emulator.set_faults("")
        os.close(fd)
        os.unlink(os.path.join(queue, ".memo.pdf"))


# --- each errno as its exit code ---------------------------------------------

def test_unknown_share_is_auth_required(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    before = {j["id"] for j in emulator.jobs()}
    res = run_backend(job(50, "x.pdf"), uri_of(mount.path, "No Such Share"),
                      data=make_pdf("nowhere"))
    assert res.code == AUTH_REQUIRED, res
    assert any("has no share 'No Such Share'" in ln
               for ln in res.lines("ERROR:")), res
    assert {j["id"] for j in emulator.jobs()} == before


def test_not_allowed_is_auth_required(emulator, upfs_mount):
    mount = upfs_mount(emulator, token=emulator.mint_token("bob@contoso.com"))
    mount.expect_warning(r"'bob\.pdf'")
    sales = emulator.share_by_name("Sales & Marketing")
    before = job_ids(emulator, sales["id"])
    res = run_backend(job(51, "bob"), uri_of(mount.path, "Sales & Marketing"),
                      data=make_pdf("bob"))
    assert res.code == AUTH_REQUIRED, res
    assert any("'bob.pdf' refused" in ln for ln in res.lines("ERROR:")), res
    assert [j for j in new_jobs(emulator, sales["id"], before)
            if j["state"] != "canceled"] == []


def test_bad_format_is_failed_with_upfs_reason(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    mount.expect_warning(r"'notes\.txt'")
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    res = run_backend(job(52, "notes.txt"), uri_of(mount.path, SHARE),
                      data=b"plain words, no document format\n" * 50,
                      content_type="text/plain")
    assert res.code == FAILED, res
    assert any("'notes.txt' refused: not a document format" in ln
               for ln in res.lines("ERROR:")), res
    assert new_jobs(emulator, share["id"], before) == []
    assert dot_files(mount) == [] and os.listdir(queue_dir(mount)) == []


def test_empty_document_is_failed(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    mount.expect_warning(r"'empty\.pdf'")
    res = run_backend(job(53, "empty.pdf"), uri_of(mount.path, SHARE),
                      data=b"")
    assert res.code == FAILED, res
    assert any("empty" in ln for ln in res.lines("ERROR:")), res
    assert dot_files(mount) == []


def test_quota_is_hold(start_emulator, upfs_mount):
    emu = start_emulator(extra_args=["--job-quota", "1"])
    mount = upfs_mount(emu)
    mount.expect_warning(r"'second\.pdf'")
    uri = uri_of(mount.path, SHARE)
    assert run_backend(job(54, "first.pdf"), uri,
                       data=make_pdf("first")).code == OK
    res = run_backend(job(55, "second.pdf"), uri, data=make_pdf("second"))
    assert res.code == HOLD, res
    assert any("'second.pdf' refused" in ln for ln in res.lines("ERROR:"))


def test_service_down_is_ok_and_printed_once_when_back(start_emulator,
                                                       upfs_mount):
    """close() is 0 when the document waits in upfs's spool: CUPS must not
    send it again (RETRY would print it twice)."""
    args = ["--job-seconds", "60"]
    emu = start_emulator(extra_args=args)
    mount = upfs_mount(emu)
    mount.expect_warning(r"service unreachable|'waiting\.pdf'")
    share = emu.share_by_name(SHARE)
    assert os.listdir(queue_dir(mount)) == []       # the share is known
    data = make_pdf("spooled by cups")
    port = emu.port
    emu.stop()
    res = run_backend(job(56, "waiting.pdf", "copies=1 sides=one-sided"),
                      uri_of(mount.path, SHARE), data=data)
    assert res.code == OK, res
    assert any("waits in the upfs spool" in ln for ln in res.lines("INFO:")), \
        res
    emu2 = start_emulator(port=port, extra_args=args)
    before = job_ids(emu2, share["id"])
    wait_started(emu2, share["id"], before, "the spooled job")
    printed = assert_printed_once(emu2, share["id"], before, "waiting.pdf",
                                  data)
    assert printed["configuration"]["duplexMode"] == "oneSided"


@pytest.mark.parametrize("stop", ["unmount", "kill-9"])
def test_options_of_a_spooled_job_survive_a_remount(start_emulator,
                                                    upfs_mount, workdir,
                                                    stop):
    """A job waiting offline with its options (copies, sides), then the
    mount unmounted or its daemon killed: the options come back from the
    spool's record and the job prints with them."""
    emu = start_emulator()
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    assert os.listdir(queue_dir(mount)) == []       # warm: the share known
    mount.unmount()
    mount = upfs_mount(emu, cache_dir=cache, options=["offline"])
    share = emu.share_by_name(SHARE)
    before = job_ids(emu, share["id"])
    data = make_pdf("offline cups job, then " + stop)
    res = run_backend(job(57, "later.pdf", "sides=two-sided-short-edge",
                          copies="5"), uri_of(mount.path, SHARE), data=data)
    assert res.code == OK, res
    assert new_jobs(emu, share["id"], before) == []
    if stop == "unmount":
        mount.unmount()
    else:
        mount.proc.send_signal(signal.SIGKILL)
        mount.wait_exit()
        assert util.unmount_path(mount.path)
    upfs_mount(emu, cache_dir=cache)
    wait_started(emu, share["id"], before,
                 "the job spooled before the " + stop)
    printed = assert_printed_once(emu, share["id"], before, "later.pdf", data)
    assert (printed["configuration"]["copies"],
            printed["configuration"]["duplexMode"]) == (5, "flipOnShortEdge")


def test_daemon_gone_is_retry(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    assert util.in_mount_table(mount.path)          # ENOTCONN from now on
    res = run_backend(job(58, "gone.pdf"), uri_of(mount.path, SHARE),
                      data=make_pdf("gone"))
    assert res.code == RETRY, res
    assert any(os.strerror(errno.ENOTCONN) in ln
               for ln in res.lines("ERROR:")), res


def test_setup_errors(workdir):
    """Without a mount: no mount of the user there (it may come: retry),
    a URI that is no upfs URI (every job would fail: stop the queue), a
    user the system does not know (this job: failed)."""
    nowhere = os.path.join(workdir, "not-mounted")
    res = run_backend(job(60, "a.pdf"), uri_of(nowhere, SHARE),
                      data=make_pdf("a"))
    assert res.code == RETRY, res
    assert any("has no upfs mount at '%s'" % nowhere in ln
               for ln in res.lines("ERROR:")), res
    for uri in ("upfs:/Floor3", "ipp://printer/ipp/print", "upfs:/mnt/"):
        res = run_backend(job(61, "b.pdf"), uri, data=make_pdf("b"))
        assert res.code == STOP, (uri, res)
    res = run_backend(job(62, "c.pdf", user="no-such-user-upfs"),
                      uri_of(nowhere, SHARE), data=make_pdf("c"))
    assert res.code == FAILED, res
    res = run_backend(["1", "2", "3"], uri_of(nowhere, SHARE))
    assert res.code == FAILED and "usage:" in res.err, res


def test_cancel_mid_job_sends_nothing(emulator, upfs_mount):
    """cupsd cancels a job with SIGTERM: the part copied so far is dropped,
    never printed."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    env = dict(os.environ, DEVICE_URI=uri_of(mount.path, SHARE),
               CONTENT_TYPE="application/pdf")
    proc = subprocess.Popen([env["DEVICE_URI"]] + job(63, "cut.pdf"),
                            executable=backend(), env=env,
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(make_pdf("half", 256 * 1024))
        proc.stdin.flush()
        util.wait_until(lambda: dot_files(mount), timeout=10,
                        what="the backend's dot file in queue/")
        proc.send_signal(signal.SIGTERM)
        proc.stdin.close()
        code = proc.wait(util.scaled(20))
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert code == CANCEL, err
    assert "nothing was sent" in err
    assert dot_files(mount) == []
    assert os.listdir(queue_dir(mount)) == []
    assert new_jobs(emulator, share["id"], before) == []


# --- whose mount -------------------------------------------------------------

class UserMount(util.Mount):
    """upfs mounted for another user. /dev/fuse is root's only on many test
    machines, so upfs keeps effective uid 0 and takes the user's real uid
    and gid: the kernel records the mount as the user's (user_id=,
    group_id=), which is what decides who may enter it."""

    def __init__(self, emulator, workdir, user, **kw):
        super().__init__(emulator, workdir, **kw)
        self.pw = pwd.getpwnam(user)
        for path in (self.path, self.cache_dir, self.home, self.token_file):
            os.chown(path, self.pw.pw_uid, self.pw.pw_gid)

    def command(self):
        return ["setpriv", "--ruid=%d" % self.pw.pw_uid,
                "--rgid=%d" % self.pw.pw_gid, "--clear-groups",
                "--"] + super().command()

    def is_mounted(self):
        # Root may not enter the user's mount: the mount table says.
        return util.in_mount_table(self.path)


@pytest.fixture
def user_mount(workdir):
    mounts = []

    def start(emu, user, **kw):
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is not installed")
        os.chmod(workdir, 0o755)
        m = UserMount(emu, workdir, user, **kw)
        mounts.append(m)
        return m.start()

    yield start
    failures = []
    for m in reversed(mounts):
        try:
            m.unmount()
        except BaseException as exc:
            failures.append(str(exc))
        finally:
            m.kill_quietly()
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@needs_root
def test_a_job_goes_through_its_users_mount_only(emulator, upfs_mount,
                                                 user_mount, workdir):
    mine = upfs_mount(emulator)                     # root's: admin
    theirs = user_mount(emulator, "nobody",
                        token=emulator.mint_token("bob@contoso.com"))
    with open("/proc/self/mounts") as fh:
        owners = {ln.split()[1]: ln.split()[3] for ln in fh}
    assert "user_id=65534" in owners[theirs.path], owners[theirs.path]
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf("nobody's job")
    src = spool_file(workdir, "d00070-001", data)   # root's, as CUPS's are
    res = run_backend(job(70, "for bob.pdf", user="nobody"),
                      uri_of(theirs.path, SHARE), file=src)
    assert res.code == OK, res
    printed = assert_printed_once(emulator, share["id"], before,
                                  "for bob.pdf", data)
    assert printed["createdBy"] == "bob@contoso.com"
    # Never another user's mount, either way round.
    res = run_backend(job(71, "x.pdf", user="nobody"),
                      uri_of(mine.path, SHARE), file=src)
    assert res.code == FAILED, res
    assert any("is the upfs mount of uid 0, not of 'nobody'" in ln
               for ln in res.lines("ERROR:")), res
    res = run_backend(job(72, "y.pdf", user="root"),
                      uri_of(theirs.path, SHARE), file=src)
    assert res.code == FAILED, res
    # Nor an ordinary user's mount shared with allow_other: it would
    # collect the others' documents under that user's sign-in (only
    # root's shared mounts serve other users).
    shared = user_mount(emulator, "nobody", options=["allow_other"],
                        token=emulator.mint_token("bob@contoso.com"))
    res = run_backend(job(75, "w.pdf", user="root"),
                      uri_of(shared.path, SHARE), file=src)
    assert res.code == FAILED, res
    assert any("or one root shares with allow_other" in ln
               for ln in res.lines("ERROR:")), res
    # Installed so that CUPS runs it as lp, it could act for no one: every
    # job would fail the same way, so the queue stops.
    res = run_backend(job(73, "z.pdf", user="nobody"),
                      uri_of(theirs.path, SHARE), data=data, as_user="lp")
    assert res.code == STOP, res
    assert any("runs as uid %d and cannot act as 'nobody'"
               % pwd.getpwnam("lp").pw_uid in ln
               for ln in res.lines("ERROR:")), res
    assert len(new_jobs(emulator, share["id"], before)) == 1
    # Discovery (as root, like cupsd) enters each owner's mounts as that
    # owner: both are listed.
    listing = discover(mine, theirs).out
    for m in (mine, theirs):
        assert "network %s " % uri_of(m.path, SHARE) in listing, listing


@needs_root
def test_a_tilde_uri_is_in_the_users_home(emulator, workdir):
    """upfs:/~/... names the same place in every user's home: the device
    listing writes it so for a mount inside its owner's home."""
    home = pwd.getpwuid(os.getuid()).pw_dir
    if not home or home == "/" or not os.path.isdir(home):
        pytest.skip("root has no home folder")
    base = tempfile.mkdtemp(prefix=".upfs-cups-test-", dir=home)
    m = util.Mount(emulator, workdir)
    os.rmdir(m.path)
    m.path = os.path.join(base, "print")
    os.mkdir(m.path)
    try:
        m.start()
        rel = os.path.relpath(m.path, home)
        tilde = "upfs:/~/%s/%s" % (rel, SHARE)
        assert "network %s " % tilde in discover(m).out
        share = emulator.share_by_name(SHARE)
        before = job_ids(emulator, share["id"])
        data = make_pdf("tilde")
        res = run_backend(job(74, "home.pdf"), tilde, data=data)
        assert res.code == OK, res
        assert_printed_once(emulator, share["id"], before, "home.pdf", data)
        m.unmount()
    finally:
        m.kill_quietly()
        shutil.rmtree(base, ignore_errors=True)


# --- a real cupsd ------------------------------------------------------------

CUPSD_CONF = """LogLevel debug
Listen 127.0.0.1:{port}
Listen {socket}
Browsing No
WebInterface No
DefaultAuthType Basic
{passenv}
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
# As Debian's cupsd.conf: printing needs the user to be known (through
# the local socket, by its peer credentials, without a password).
<Policy authenticated>
  <Limit Create-Job Print-Job Print-URI Validate-Job>
    AuthType Default
    Order deny,allow
  </Limit>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """ServerRoot {root}/etc
ServerBin {root}/serverbin
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/spool/tmp
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
FileDevice Yes
SystemGroup root
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cupsd:
    """A cupsd of the test's own: its port, socket, configuration, spool
    and a copy of /usr/lib/cups (its ServerBin) with the backend added."""

    def __init__(self, workdir):
        os.chmod(workdir, 0o755)        # filters run as lp
        self.root = tempfile.mkdtemp(prefix="cups-", dir=workdir)
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.socket = os.path.join(self.root, "cups.sock")
        self.proc = None
        self.ns = None          # its mount namespace, once started
        self.env = dict(os.environ, CUPS_SERVER=self.socket, LC_ALL="C")

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    def start(self, *mounts):
        """cupsd, seeing of the machine's upfs mounts only these."""
        for sub in ("etc", "spool/tmp", "cache", "state", "log"):
            os.makedirs(self.p(sub))
        shutil.copytree("/usr/lib/cups", self.p("serverbin"), symlinks=True)
        shutil.copy(backend(), self.p("serverbin", "backend", "upfs"))
        os.chmod(self.p("serverbin", "backend", "upfs"), 0o700)
        passenv = [k for k in os.environ
                   if k.startswith(("ASAN_", "UBSAN_", "LSAN_"))]
        with open(self.p("etc", "cupsd.conf"), "w") as fh:
            fh.write(CUPSD_CONF.format(
                port=self.port, socket=self.socket,
                passenv=("PassEnv " + " ".join(passenv)) if passenv else ""))
        with open(self.p("etc", "cups-files.conf"), "w") as fh:
            fh.write(CUPS_FILES_CONF.format(root=self.root))
        log = open(self.p("log", "cupsd.out"), "wb")
        try:
            self.proc = subprocess.Popen(alone_with(mounts, [
                "cupsd", "-f", "-c", self.p("etc", "cupsd.conf"), "-s",
                self.p("etc", "cups-files.conf")]),
                stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        finally:
            log.close()
        util.wait_until(self.running, timeout=30, what="cupsd to answer")
        self.ns = namespace_of(self.proc.pid)

    def running(self):
        if self.proc.poll() is not None:
            pytest.fail("cupsd exited with %s:\n%s" % (self.proc.returncode,
                                                        self.log_tail()))
        out = subprocess.run(["lpstat", "-r"], env=self.env,
                             capture_output=True, text=True).stdout
        return "scheduler is running" in out

    def log(self, name="error_log"):
        try:
            with open(self.p("log", name), errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def log_tail(self):
        return self.log("cupsd.out")[-3000:] + self.log()[-6000:]

    def run(self, *cmd, check=True):
        # cups-sync waits on device discovery, which visits every upfs
        # mount cupsd sees: up to 5 s for each slow one.
        return util.run(list(cmd), env=self.env, check=check,
                        stdin=subprocess.DEVNULL, timeout=150)

    def queues(self):
        """{queue: device URI} from lpstat -v."""
        out = self.run("lpstat", "-v", check=False).stdout
        return dict(re.findall(r"^device for (\S+): (\S+)$", out, re.M))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            if self.ns is None:             # it never answered
                self.ns = namespace_of(self.proc.pid)
            self.proc.terminate()
            try:
                self.proc.wait(util.scaled(15))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.ns:
            end_namespace(self.ns)


@pytest.fixture
def cupsd(workdir, upfs_mount):
    # upfs_mount: set up before, so torn down after it (end_namespace).
    if not shutil.which("cupsd") or not os.path.isdir("/usr/lib/cups"):
        pytest.skip("cupsd is not installed (apt-get install cups "
                    "cups-client)")
    # lpinfo asks cups-deviced, which the package cups has and
    # cups-daemon alone lacks: upfsctl cups-sync needs it.
    if not os.access("/usr/lib/cups/daemon/cups-deviced", os.X_OK):
        pytest.skip("cups-deviced is not installed (apt-get install cups)")
    for tool in ("lpadmin", "lpstat", "lp", "lpinfo"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (apt-get install cups-client)"
                        % tool)
    if os.geteuid() != 0:
        pytest.skip("cupsd runs a 0700 backend as root: the test needs root")
    c = Cupsd(workdir)      # the test starts it once its mounts are up
    try:
        yield c
    finally:
        c.stop()
        print("--- cupsd log (end) ---\n" + c.log_tail())


def upfsctl():
    return os.path.join(util.build_dir(), "tools", "upfsctl")


PPD = os.path.join(util.REPO_DIR, "packaging", "cups", "upfs.ppd")


@needs_root
def test_cupsd_prints_through_the_backend(emulator, upfs_mount, cupsd,
                                          workdir):
    mount = upfs_mount(emulator)
    mount.expect_warning(r"share 'Reception'|'Reception'")
    other = upfs_mount(emulator, options=["dir_ttl=1"])
    other.expect_warning(r"share 'Reception'|'Reception'")
    cupsd.start(mount, other)
    names = util.expected_names(emulator.state(only=["shares"])["shares"])
    mine = {uri_of(mount.path, n): n for n in names.values()}
    sync = [upfsctl(), "cups-sync", "--ppd", PPD, "--mount", mount.path]

    # An lpstat -v that fails after listing some queues leaves the
    # queues unknown: cups-sync changes nothing (it added every share's).
    shim = os.path.join(workdir, "failing-lpstat")
    os.mkdir(shim)
    write_file(os.path.join(shim, "lpstat"), (
        "#!/bin/sh\n[ \"$1\" = -v ] || exec /usr/bin/lpstat \"$@\"\n"
        "echo 'device for old: upfs:/nowhere/old'\n"
        "echo 'lpstat: Connection reset by peer' >&2\nexit 1\n").encode())
    os.chmod(os.path.join(shim, "lpstat"), 0o755)
    failed = util.run(sync, env=dict(cupsd.env, PATH=shim + ":" +
                                     os.environ["PATH"]), check=False,
                      stdin=subprocess.DEVNULL, timeout=150)
    assert failed.returncode != 0 and "'lpstat -v' failed (see above): " \
        "the CUPS queues are unknown, nothing changed" in failed.stderr, \
        failed
    assert cupsd.queues() == {}, failed

    # cups-sync --mount: a queue per share of that mount, each on its
    # upfs: device; none for the other mount's shares.
    out = cupsd.run(*sync).stdout
    queues = {uri: q for q, uri in cupsd.queues().items()}
    assert set(mine) <= set(queues), (out, queues)
    assert not any(uri.startswith(uri_of(other.path, ""))
                   for uri in queues), (out, queues)
    again = cupsd.run(*sync).stdout
    assert not any(uri in again for uri in mine), again
    refused = cupsd.run(upfsctl(), "cups-sync", "--ppd", PPD, "--mount",
                        mount.path + "-none", check=False)
    assert refused.returncode != 0 and "no running upfs mount at" in \
        refused.stderr, refused
    floor3 = queues[uri_of(mount.path, SHARE)]
    info = cupsd.run("lpstat", "-l", "-p", floor3).stdout
    assert "Building 1, 3, 301, Redmond, USA" in info, info

    # lp: the job reaches the emulator byte-exact, with copies and sides.
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf("printed from cups", 200 * 1024)
    src = write_file(os.path.join(workdir, "e2e.pdf"), data)
    out = cupsd.run("lp", "-d", floor3, "-n", "2", "-o",
                    "sides=two-sided-long-edge", "-t", "From CUPS",
                    src).stdout
    request = re.search(r"request id is (\S+-(\d+))", out)
    assert request, out
    wait_started(emulator, share["id"], before,
                 "the job from cupsd at the emulator", timeout=30)
    printed = assert_printed_once(emulator, share["id"], before,
                                  "From CUPS.pdf", data, "application/pdf")
    config = printed["configuration"]
    assert (config["copies"], config["duplexMode"]) == \
        (2, "flipOnLongEdge"), config
    assert printed["createdBy"] == "admin@contoso.com"

    def completed():
        done = cupsd.run("lpstat", "-W", "completed", "-o", floor3).stdout
        return request.group(1) in done and \
            "[Job %s] Job completed." % request.group(2) in cupsd.log()
    util.wait_until(completed, timeout=30, what="lpstat to show the job "
                    "completed")
    assert request.group(1) not in cupsd.run("lpstat", "-o", check=False).stdout

    # Printing over TCP with a claimed user name is refused: the queue's
    # policy asks who prints, and the backend trusts that name.
    proc = subprocess.run(["lp", "-h", "127.0.0.1:%d" % cupsd.port, "-U",
                           "nobody", "-d", floor3, src],
                          env=dict(os.environ, LC_ALL="C"),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, start_new_session=True,
                          timeout=util.scaled(30))
    assert proc.returncode != 0 and "request id" not in proc.stdout, proc

    # A share that is gone loses its queue; the others stay, and so does
    # the other mount's queue of that share: not this sync's to remove.
    # A queue that still holds a job is kept (lpadmin -x would cancel
    # it) until the job is gone.
    theirs = uri_of(other.path, "Reception")
    cupsd.run("lpadmin", "-p", "theirs", "-E", "-v", theirs, "-P", PPD)
    gone = uri_of(mount.path, "Reception")
    held = cupsd.run("lp", "-d", queues[gone], "-H", "hold", src).stdout
    assert "request id" in held, held
    os.rmdir(mount.p("shares", "Reception"))
    util.wait_until(lambda: "Reception" not in os.listdir(
        other.p("shares")), what="the other mount to lose Reception")
    out = cupsd.run(*sync).stdout
    assert "kept '%s': its share is gone (%s), but it holds jobs" % (
        queues[gone], gone) in out, out
    assert gone in set(cupsd.queues().values())
    cupsd.run("cancel", "-a", queues[gone])
    util.wait_until(lambda: not cupsd.run("lpstat", "-o", queues[gone],
                                          check=False).stdout,
                    timeout=10, what="the held job to be cancelled")
    out = cupsd.run(*sync).stdout
    assert "removed '%s'" % queues[gone] in out, out
    left = set(cupsd.queues().values())
    assert gone not in left and uri_of(mount.path, SHARE) in left
    assert theirs in left, out
    # Without --mount, every mount's shares (-n: only said, not made).
    out = cupsd.run(upfsctl(), "cups-sync", "--ppd", PPD, "-n").stdout
    assert "for %s" % uri_of(other.path, SHARE) in out, out
    assert "would remove 'theirs'" in out, out
