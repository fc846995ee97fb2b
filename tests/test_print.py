"""Printing by writing into shares/<s>/queue/ (design.md §3): every kind of
writer, checked at the emulator (one job per submission, the right share,
name, size and sha256), two copies of one file, a large document within a
memory bound, and rm cancelling a job.

Failures (permanent refusals, offline, faults, kill -9) are in
test_print_failures.py."""

import errno
import hashlib
import os
import subprocess

import pytest

import util
from util import xattr

SHARE = "Floor3"                # printer Floor3 LaserJet: PDF, PWG, PCLm
PRINTER = "Floor3 LaserJet"
STARTED = ("processing", "completed")


# --- helpers shared with test_print_failures.py -----------------------------

def make_pdf(tag, size=64 * 1024):
    """A distinct document the sniffer takes for PDF: header, the tag, filler
    that differs per tag, trailer."""
    head = b"%PDF-1.4\n%" + tag.encode() + b"\n"
    tail = b"\n%%EOF\n"
    seed = hashlib.sha256(tag.encode()).digest()
    fill = bytearray()
    block = seed
    while len(fill) < size - len(head) - len(tail):
        block = hashlib.sha256(block).digest()
        fill += block
    return head + bytes(fill[:max(0, size - len(head) - len(tail))]) + tail


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write_file(path, data):
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def job_ids(emu, share_id):
    return {j["id"] for j in emu.jobs(shareId=share_id)}


def new_jobs(emu, share_id, before):
    return [j for j in emu.jobs(shareId=share_id) if j["id"] not in before]


def assert_printed_once(emu, share_id, before, name, data, ctype=None):
    """Exactly one new job on the share since `before`, started, carrying
    `name` and exactly these bytes. Returns the job summary."""
    jobs = new_jobs(emu, share_id, before)
    assert len(jobs) == 1, "want one new job for %r, got %s" % (name, jobs)
    job = jobs[0]
    assert job["shareId"] == share_id
    assert job["state"] in STARTED, job
    assert job["documentName"] == name, job
    assert job["size"] == len(data), job
    assert job["sha256"] == sha256(data), job
    if ctype:   # the emulator keeps the type as the printer spells it
        assert job["contentType"].lower() == ctype.lower(), job
    doc = emu.job_document(job["id"])
    assert doc["sha256"] == sha256(data) and doc["size"] == len(data), doc
    return job


def assert_no_open_uploads(emu):
    util.wait_until(lambda: emu.uploads() == [], timeout=5,
                    what="no open upload sessions")


def pending_entries(queue):
    """The queue/ entries still on their way (they have a submission step)."""
    out = []
    for name in os.listdir(queue):
        try:
            os.getxattr(os.path.join(queue, name), "user.upfs.step")
        except OSError:
            continue
        out.append(name)
    return out


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for pid %d" % pid)


# --- every writer ------------------------------------------------------------

def w_cp(src, queue, name):
    util.run(["cp", src, os.path.join(queue, name)])


def w_cat(src, queue, name):
    with open(src, "rb") as stdin:
        util.run(["sh", "-c", 'cat > "$1"', "sh", os.path.join(queue, name)],
                 stdin=stdin)


def w_dd4k(src, queue, name):
    util.run(["dd", "if=" + src, "of=" + os.path.join(queue, name), "bs=4k",
              "status=none"])


def w_dd1m(src, queue, name):
    util.run(["dd", "if=" + src, "of=" + os.path.join(queue, name), "bs=1M",
              "status=none"])


def w_rsync(src, queue, name):
    # rsync writes .NAME.XXXXXX and renames it: the rename is the submission.
    util.run(["rsync", src, os.path.join(queue, name)])


def w_python(src, queue, name):
    data = util.read_bytes(src)
    fd = os.open(os.path.join(queue, name), os.O_WRONLY | os.O_CREAT
                 | os.O_TRUNC, 0o644)
    try:
        for off in range(0, len(data), 100000):
            os.write(fd, data[off:off + 100000])
    finally:
        os.close(fd)


def w_mv(src, queue, name):
    util.run(["mv", src, os.path.join(queue, name)])
    assert not os.path.exists(src), "mv left its source behind"


def w_group(src, queue, name):
    # The shell opens the file; head's exit closes head's copy of it while
    # tail has still to write: that close is not the document's end.
    half = os.path.getsize(src) // 2
    util.run(["sh", "-c", '{ head -c %d "$1"; tail -c +%d "$1"; } > "$2"'
              % (half, half + 1), "sh", src, os.path.join(queue, name)])


def w_fork(src, queue, name):
    # A forked child exits (closing its inherited copy) mid-document.
    data = util.read_bytes(src)
    fd = os.open(os.path.join(queue, name), os.O_WRONLY | os.O_CREAT
                 | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data[:len(data) // 2])
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        os.write(fd, data[len(data) // 2:])
    finally:
        os.close(fd)


WRITERS = {"cp": w_cp, "cat": w_cat, "dd-4k": w_dd4k, "dd-1M": w_dd1m,
           "rsync": w_rsync, "python": w_python, "mv": w_mv,
           "group": w_group, "fork": w_fork}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_prints_once(writer, emulator, upfs_mount, workdir):
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    name = "%s doc.pdf" % writer
    # Several upload ranges and a tail that is no multiple of anything.
    data = make_pdf(writer, 3 * 1024 * 1024 + 4321)
    src = write_file(os.path.join(workdir, "src-" + writer + ".pdf"), data)
    before = job_ids(emulator, share["id"])

    WRITERS[writer](src, queue, name)

    # close() returned: the job is created, uploaded and started already.
    job = assert_printed_once(emulator, share["id"], before, name, data,
                              "application/pdf")
    assert job["createdBy"] == "admin@contoso.com"
    assert_no_open_uploads(emulator)
    # No temporary name (rsync's .x.pdf.XXXXXX) is left in queue/, and the
    # live job is listed under its document name (the emulator's jobs take
    # 2 s to complete, so it is still live here).
    names = os.listdir(queue)
    assert not [n for n in names if n.startswith(".")], names
    assert pending_entries(queue) == []
    assert name in names, names
    assert xattr(os.path.join(queue, name), "id") == job["id"]


def write_through_a_child(path, data):
    """Opens path, hands the descriptor to a child and closes its own copy
    before a byte is in (a program's stdout=file for a subprocess); the
    child writes data and exits. Returns the parent's close's errno."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(go_w)
            os.read(go_r, 1)            # the parent closed its copy
            for off in range(0, len(data), 100000):
                os.write(fd, data[off:off + 100000])
            os.close(fd)
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(go_r)
    rc = util.call_errno(lambda: os.close(fd))
    os.close(go_w)
    assert os.waitpid(pid, 0)[1] == 0
    return rc


def test_a_document_a_child_writes_after_its_opener_closed(emulator,
                                                           upfs_mount):
    """The opener hands its descriptor to a child and closes its own copy
    before a byte is in: the child's close at its exit is not the
    opener's, so the last release of the file hands the document over,
    whole, once."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emulator, share["id"])
    data = make_pdf("child", 700 * 1024)
    # Nothing written yet: an empty document's close says EINVAL.
    assert write_through_a_child(os.path.join(queue, "child.pdf"), data) \
        == errno.EINVAL
    util.wait_until(lambda: new_jobs(emulator, share["id"], before) and
                    pending_entries(queue) == [], timeout=30,
                    what="the document handed over at its release")
    assert_printed_once(emulator, share["id"], before, "child.pdf", data)


def test_a_refusal_at_the_last_release_is_logged_and_leaves_nothing(
        emulator, upfs_mount):
    """The same, with bytes the service does not print: no close is there
    to return the refusal, so the log and .upfs/status say it, and no job
    or waiting document is left."""
    mount = upfs_mount(emulator)
    mount.expect_warning(r"'notes\.txt' refused: .*not a document format")
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emulator, share["id"])
    assert write_through_a_child(os.path.join(queue, "notes.txt"),
                                 b"plain words\n" * 500) == errno.EINVAL
    util.wait_until(lambda: "not a document format" in
                    mount.status()["last_error"], timeout=30,
                    what="the refusal in .upfs/status")
    assert pending_entries(queue) == [] and "notes.txt" not in \
        os.listdir(queue)
    assert new_jobs(emulator, share["id"], before) == []


# --- the same file twice -----------------------------------------------------

def getfattr_dump(path):
    """`getfattr -d` of path as {name: value}."""
    out = util.run(["getfattr", "-d", "--absolute-names", path]).stdout
    attrs = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            attrs[key] = value.strip('"')
    return attrs


def test_same_file_twice_prints_twice(start_emulator, upfs_mount, workdir):
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    mount = upfs_mount(emu)
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    data = make_pdf("twice", 300 * 1024)
    src = write_file(os.path.join(workdir, "doc.pdf"), data)
    before = job_ids(emu, share["id"])

    util.run(["cp", src, queue + "/"])
    first = assert_printed_once(emu, share["id"], before, "doc.pdf", data)
    util.run(["cp", src, queue + "/"])
    second = assert_printed_once(emu, share["id"], before | {first["id"]},
                                 "doc.pdf", data)
    assert first["id"] != second["id"]

    names = sorted(os.listdir(queue))
    assert "doc.pdf" in names and "doc ~2.pdf" in names, names
    ids = {xattr(os.path.join(queue, n), "id")
           for n in ("doc.pdf", "doc ~2.pdf")}
    assert ids == {first["id"], second["id"]}
    # The whole listing is what the naming rules make of the live jobs.
    jobs = emu.state(only=["jobs"])["jobs"]
    want = util.expected_queue([j for j in jobs
                                if j.get("shareId") == share["id"]])
    assert set(names) == set(want), (names, sorted(want))
    for n in ("doc.pdf", "doc ~2.pdf"):
        attrs = getfattr_dump(os.path.join(queue, n))
        assert attrs.get("user.upfs.id") in ids, attrs
        assert attrs.get("user.upfs.state") == "processing", attrs
        assert attrs.get("user.upfs.size") == str(len(data)), attrs
        st = os.stat(os.path.join(queue, n))
        assert st.st_size == len(data), (n, st)
    assert_no_open_uploads(emu)


def test_a_print_costs_four_requests(start_emulator, upfs_mount, workdir):
    """create, upload session, one PUT, start: the started job goes into
    the share's listing as the service described it, so neither close()
    nor the ls after it fetches every job of the share again."""
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    mount = upfs_mount(emu)
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    os.listdir(queue)
    # The share's capabilities (content types) are read once per TTL.
    util.read_text(mount.p("shares", SHARE, "share.json"))
    before = job_ids(emu, share["id"])
    data = make_pdf("four", 100 * 1024)
    src = write_file(os.path.join(workdir, "four.pdf"), data)
    emu.reset_requests()
    util.run(["cp", src, queue + "/"])
    names = os.listdir(queue)
    routes = emu.requests()["routes"]
    assert sum(routes.values()) == 4, routes
    assert not [r for r in routes if r.startswith("GET")], routes
    job = assert_printed_once(emu, share["id"], before, "four.pdf", data)
    assert "four.pdf" in names
    path = os.path.join(queue, "four.pdf")
    assert xattr(path, "id") == job["id"]
    assert xattr(path, "state") == "processing"
    assert os.stat(path).st_size == len(data)


def test_queue_look_ups_see_what_came_since_the_listing(start_emulator,
                                                        upfs_mount, workdir):
    """A name queue/ lacked is answered absent without listing queue/
    again only while nothing it was made from could have brought it (cp
    looks a new name up two or three times): a document another handle is
    writing, one printed meanwhile, and jobs the service lists after the
    TTL, a second of a name among them, each show at the next look-up."""
    emulator = start_emulator(extra_args=["--job-seconds", "60"])
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    listed = set(os.listdir(queue))
    held, printed, remote, second = (
        os.path.join(queue, n) for n in ("held.pdf", "printed.pdf",
                                         "remote.pdf", "remote ~2.pdf"))
    for path in (held, printed, remote, second):
        assert not os.path.exists(path)
    fd = os.open(held, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(fd, make_pdf("held"))
        # The kernel keeps no entry of a queue/ name: this is a look-up.
        assert os.path.exists(held)
        assert "held.pdf" in os.listdir(queue)
        util.run(["cp", write_file(os.path.join(workdir, "printed.pdf"),
                                   make_pdf("printed")), queue + "/"])
        assert os.path.exists(printed)
        assert os.path.exists(held)
    finally:
        os.close(fd)
    assert os.path.exists(held)
    for _ in range(2):
        emulator.add_job(shareId=share["id"], state="pending",
                         documentName="remote.pdf", size=1000)
    util.wait_until(lambda: os.path.exists(second), timeout=15,
                    what="the service's second remote.pdf looked up")
    assert os.path.exists(remote)
    assert set(os.listdir(queue)) == listed | {
        "held.pdf", "printed.pdf", "remote.pdf", "remote ~2.pdf"}
    assert not os.path.exists(os.path.join(queue, "remote ~3.pdf"))


# --- content types -----------------------------------------------------------

def zip_bytes(entries):
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in entries:
            z.writestr(name, text)
    return out.getvalue()


def package_rels(namespace, target):
    return ('<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="R1" Type="%s/'
            'fixedrepresentation" Target="/%s"/></Relationships>'
            % (namespace, target))


OXPS_NS = "http://schemas.openxps.org/oxps/v1.0"
XPS_NS = "http://schemas.microsoft.com/xps/2005/06"


def oxps_doc(tag):
    """OpenXPS whose sequence has the name MS XPS writers often give it:
    the namespaces (in deflated parts) tell the two apart, not names."""
    return zip_bytes([
        ("[Content_Types].xml", "<Types/>"),
        ("_rels/.rels", package_rels(OXPS_NS, "FixedDocSeq.fdseq")),
        ("FixedDocSeq.fdseq",
         '<FixedDocumentSequence xmlns="%s"><!-- %s -->'
         '</FixedDocumentSequence>' % (OXPS_NS, tag)),
        ("Documents/1/FixedDocument.fdoc", "x" * 5000)])


def xps_doc(tag):
    """MS XPS as WPF writes it ("FixedDocumentSequence.fdseq"), after a
    thumbnail that puts every other part name past the first 4 KiB."""
    return zip_bytes([
        ("Metadata/thumbnail.png", os.urandom(6000)),
        ("[Content_Types].xml", "<Types/>"),
        ("_rels/.rels", package_rels(XPS_NS, "FixedDocumentSequence.fdseq")),
        ("FixedDocumentSequence.fdseq",
         '<FixedDocumentSequence xmlns="%s"><!-- %s -->'
         '</FixedDocumentSequence>' % (XPS_NS, tag)),
        ("Documents/1/FixedDoc.fdoc", "x" * 5000)])


def with_magic(magic, tag, size=20000):
    return magic + make_pdf(tag, size)[len(magic):]


SAMPLES = {
    # name: (bytes, the content type upfs must sniff)
    "page.pwg": (with_magic(b"RaS2PwgRaster\0", "pwg"), "image/pwg-raster"),
    "page.urf": (with_magic(b"UNIRAST\0", "urf"), "image/urf"),
    "photo.jpg": (with_magic(b"\xff\xd8\xff\xe0\0\x10JFIF\0", "jpg"),
                  "image/jpeg"),
    "logo.png": (with_magic(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "png"),
                 "image/png"),
    "form.oxps": (oxps_doc("oxps"), "application/oxps"),
    "old.xps": (xps_doc("xps"), "application/vnd.ms-xpsdocument"),
    "scan.pdf": (b"%PDF-1.7\n%PCLm 1.0\n" + make_pdf("pclm", 20000)[9:],
                 "application/PCLm"),
}

# Media types are case-insensitive: a printer may list "application/pclm"
# for what upfs names "application/PCLm" as the reference writes it.
ANY_FORMAT = ["image/pwg-raster", "image/urf", "image/jpeg", "image/png",
              "application/oxps", "application/vnd.ms-xpsdocument",
              "application/pclm"]


def add_printer_share(emu, display, content_types, share_name):
    printer = emu.add_printer(displayName=display,
                              capabilities={"contentTypes": content_types})
    return printer, emu.add_share(printerId=printer["id"],
                                  displayName=share_name, allowAllUsers=True)


def test_content_type_is_sniffed_from_the_bytes(emulator, upfs_mount,
                                                 workdir):
    """Names lie (no extension says what a file is): each format is told by
    its bytes, here under a name with a misleading extension."""
    _, share = add_printer_share(emulator, "Any Format", ANY_FORMAT,
                                 "AnyFormat")
    mount = upfs_mount(emulator)
    queue = mount.p("shares", "AnyFormat", "queue")
    for name, (data, ctype) in sorted(SAMPLES.items()):
        before = job_ids(emulator, share["id"])
        src = write_file(os.path.join(workdir, name), data)
        target = name.rsplit(".", 1)[0] + ".bin"
        util.run(["cp", src, os.path.join(queue, target)])
        assert_printed_once(emulator, share["id"], before, target, data,
                            ctype)
    assert_no_open_uploads(emulator)


def test_oxps_to_a_pdf_printer_is_converted(emulator, upfs_mount, workdir):
    """Floor3's printer takes PDF, not OXPS; the demo tenant has
    documentConversionEnabled, so the service converts (reference §3.3)."""
    share = emulator.share_by_name(SHARE)
    assert emulator.state()["settings"]["documentConversionEnabled"] is True
    mount = upfs_mount(emulator)
    data = oxps_doc("conv")
    src = write_file(os.path.join(workdir, "form.oxps"), data)
    before = job_ids(emulator, share["id"])
    rc = subprocess.run(["cp", src, mount.p("shares", SHARE, "queue") + "/"],
                        capture_output=True, text=True)
    assert rc.returncode == 0, "cp of an OXPS document to a PDF printer " \
        "with conversion on failed: %s" % rc.stderr
    assert_printed_once(emulator, share["id"], before, "form.oxps", data)
    assert_no_open_uploads(emulator)


def test_oxps_when_the_settings_cannot_be_read_is_left_to_the_service(
        emulator, upfs_mount, workdir):
    """Reading /print/settings takes PrintSettings.Read.All, an admin's
    permission (reference §3.0, §5.4): a user who cannot read it still
    prints OXPS to a PDF printer, and the service converts it."""
    share = emulator.share_by_name(SHARE)
    emulator.set_faults("400:1,method=GET,route=/print/settings$")
    mount = upfs_mount(emulator)
    mount.expect_warning(r"'/print/settings': HTTP 400")
    data = oxps_doc("unread")
    src = write_file(os.path.join(workdir, "form.oxps"), data)
    before = job_ids(emulator, share["id"])
    rc = subprocess.run(["cp", src, mount.p("shares", SHARE, "queue") + "/"],
                        capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    assert emulator.requests()["routes"].get("GET /print/settings"), \
        "the settings were not asked for"
    emulator.set_faults("")
    assert_printed_once(emulator, share["id"], before, "form.oxps", data)


def test_ms_xps_to_a_pdf_printer_is_refused_before_any_job(emulator,
                                                           upfs_mount,
                                                           workdir):
    """The service converts OpenXPS only (reference §3.3): MS XPS to a
    printer that takes neither fails at close with EINVAL, and no job is
    made (the check comes before the create)."""
    share = emulator.share_by_name(SHARE)
    mount = upfs_mount(emulator)
    mount.expect_warning(r"'form\.xps' refused")
    src = write_file(os.path.join(workdir, "form.xps"), xps_doc("conv"))
    before = job_ids(emulator, share["id"])
    emulator.reset_requests()
    rc = subprocess.run(["cp", src, mount.p("shares", SHARE, "queue") + "/"],
                        capture_output=True, text=True)
    assert rc.returncode != 0 and "Invalid argument" in rc.stderr, rc
    assert job_ids(emulator, share["id"]) == before
    assert not any(r.startswith("POST ")
                   for r in emulator.requests()["routes"]), \
        emulator.requests()["routes"]
    assert os.listdir(mount.p("shares", SHARE, "queue")) == [] or \
        "form.xps" not in os.listdir(mount.p("shares", SHARE, "queue"))
    assert_no_open_uploads(emulator)


# --- a large document --------------------------------------------------------

def test_200mb_document_in_bounded_memory(emulator, upfs_mount, workdir):
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    size = 200 * 1024 * 1024 + 17
    src = os.path.join(workdir, "big.pdf")
    digest = hashlib.sha256()
    with open(src, "wb") as fh:
        head = b"%PDF-1.5\n%big\n"
        fh.write(head)
        digest.update(head)
        block = os.urandom(1 << 20)
        left = size - len(head)
        while left:
            chunk = block[:min(left, len(block))]
            fh.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    before = job_ids(emulator, share["id"])

    util.run(["cp", src, mount.p("shares", SHARE, "queue") + "/"],
             timeout=120)

    jobs = new_jobs(emulator, share["id"], before)
    assert len(jobs) == 1, jobs
    job = jobs[0]
    assert job["state"] in STARTED and job["documentName"] == "big.pdf"
    assert job["size"] == size and job["sha256"] == digest.hexdigest(), job
    peak = peak_rss_kib(mount.proc.pid)
    sanitizer = util.sanitizer_of(mount.proc.pid)
    print("upfs peak RSS (VmHWM) after a 200 MB print: %d KiB%s"
          % (peak, " under %s" % sanitizer if sanitizer else ""))
    # The bound is upfs's: a sanitizer's shadow memory and ASan's
    # quarantine of freed blocks (curl's 1 MiB upload buffer of every
    # range among them) are not.
    if sanitizer is None:
        assert peak < 64 * 1024, \
            "upfs peaked at %d KiB for a 200 MB document" % peak
    assert_no_open_uploads(emulator)


def test_small_spool_files_are_reused_too(emulator, upfs_mount, workdir):
    """A small document's spool file is kept as well (.reuse.0 to
    .reuse.7), and the next document is written over it: making and
    removing a file per document made ext4 scan past every inode freed
    lately (an eighth of the daemon's CPU for 10 KB documents). Each
    document prints its own bytes, shorter or longer than the file it
    took; one file serves documents one after another; an unmount leaves
    none."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    spool = os.path.join(mount.cache_dir, "spool")
    kept = os.path.join(spool, ".reuse.0")
    inodes, longest = set(), 0
    for name, size in (("a.pdf", 50000), ("b.pdf", 20003), ("c.pdf", 70001)):
        data = make_pdf(name, size)
        before = job_ids(emulator, share["id"])
        util.run(["cp", write_file(os.path.join(workdir, name), data),
                  queue + "/"])
        assert_printed_once(emulator, share["id"], before, name, data)
        longest = max(longest, size)
        util.wait_until(lambda: os.path.exists(kept), timeout=10,
                        what="the spool file kept")
        assert os.path.getsize(kept) == longest
        inodes.add(os.stat(kept).st_ino)
        assert sorted(n for n in os.listdir(spool)
                      if not n.startswith((".lock", ".unflushed"))) == \
            [".reuse.0"]
    assert len(inodes) == 1, "each document took the kept file"
    mount.unmount()
    assert not [n for n in os.listdir(spool) if n.startswith(".reuse")]


def test_a_reused_spool_file_carries_only_the_new_document(emulator,
                                                          upfs_mount,
                                                          workdir):
    """A big document's spool file is kept and written over by the next
    one: what the next one reads, stats and prints is its own bytes — not
    the longer file's tail, and zeros where it skipped or extended, not the
    old bytes there; a clean unmount leaves no kept file."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    kept = os.path.join(mount.cache_dir, "spool", ".reuse")
    big = make_pdf("reuse-big", 3 * 1024 * 1024 + 5)
    before = job_ids(emulator, share["id"])
    util.run(["cp", write_file(os.path.join(workdir, "big.pdf"), big),
              queue + "/"])
    assert_printed_once(emulator, share["id"], before, "big.pdf", big)
    assert os.path.getsize(kept) == len(big)

    small = make_pdf("reuse-small", 100 * 1024 + 3)
    local = os.path.join(queue, ".small.pdf")
    write_file(local, small)    # a dot name stays local: read it back
    assert not os.path.exists(kept), "the new document took the kept file"
    assert os.stat(local).st_size == len(small)
    with open(local, "rb") as fh:
        assert fh.read() == small
    with open(local, "rb") as fh:
        fh.seek(len(small) - 10)
        assert fh.read(1 << 20) == small[-10:]
    before = job_ids(emulator, share["id"])
    os.rename(local, os.path.join(queue, "small.pdf"))
    assert_printed_once(emulator, share["id"], before, "small.pdf", small)
    assert os.path.getsize(kept) == len(big), \
        "a small document hands the kept file back whole"

    # Skipped bytes and an extending truncate read as zeros.
    head, tail = b"%PDF-1.4\n%holes\n", b"\n%%EOF\n"
    holes = head + bytes(200000 - len(head)) + tail + bytes(50000)
    with open(os.path.join(queue, ".holes.pdf"), "wb", buffering=0) as fh:
        assert os.fstat(fh.fileno()).st_size == 0
        fh.write(head)
        assert os.fstat(fh.fileno()).st_size == len(head)
        fh.seek(200000)
        fh.write(tail)
        assert os.fstat(fh.fileno()).st_size == 200000 + len(tail)
        fh.truncate(len(holes))
        assert os.fstat(fh.fileno()).st_size == len(holes)
    with open(os.path.join(queue, ".holes.pdf"), "rb") as fh:
        assert fh.read() == holes
    before = job_ids(emulator, share["id"])
    os.rename(os.path.join(queue, ".holes.pdf"),
              os.path.join(queue, "holes.pdf"))
    assert_printed_once(emulator, share["id"], before, "holes.pdf", holes)

    middle = make_pdf("reuse-middle", 2 * 1024 * 1024 + 1)
    src = write_file(os.path.join(workdir, "middle.pdf"), middle)
    before = job_ids(emulator, share["id"])
    util.run(["dd", "bs=64k", "status=none", "if=" + src,
              "of=" + os.path.join(queue, "middle.pdf")])
    assert_printed_once(emulator, share["id"], before, "middle.pdf", middle)
    assert os.path.getsize(kept) == len(big)

    mount.unmount()
    assert not os.path.exists(kept)


# --- rm cancels; a job's status follows it -----------------------------------

def printing_job(start_emulator, upfs_mount, workdir):
    """x.pdf printed through a fresh mount, its job held in processing for
    a minute: (emulator, mount, queue/, the job)."""
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    mount = upfs_mount(emu)
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    data = make_pdf("cancel me")
    src = write_file(os.path.join(workdir, "x.pdf"), data)
    before = job_ids(emu, share["id"])
    util.run(["cp", src, queue + "/"])
    job = assert_printed_once(emu, share["id"], before, "x.pdf", data)
    assert job["state"] == "processing"
    return emu, mount, queue, job


def test_rm_cancels_the_job(start_emulator, upfs_mount, workdir):
    emu, _, queue, job = printing_job(start_emulator, upfs_mount, workdir)
    emu.reset_requests()

    util.run(["rm", os.path.join(queue, "x.pdf")])

    assert emu.job(job["id"])["state"] == "canceled"
    routes = emu.requests()["routes"]
    # POST /print/printers/{pid}/jobs/{jid}/cancel, once (the emulator
    # counts by route template).
    assert routes.get("POST /print/printers/{id}/jobs/{jid}/cancel") == 1, \
        routes
    assert "x.pdf" not in os.listdir(queue)


@util.with_one_request_faults
def test_rm_whose_cancel_meets_a_fault(start_emulator, upfs_mount, workdir,
                                       fault):
    """The cancel meets a fault (twice, if sent twice): rm returns 0
    exactly when the job is canceled at the service, else a clean errno
    with the job still listed."""
    emu, mount, queue, job = printing_job(start_emulator, upfs_mount,
                                          workdir)
    mount.expect_warning(r".")
    emu.set_faults("%s,method=POST,route=/cancel$,times=2" % fault)
    try:
        os.unlink(os.path.join(queue, "x.pdf"))
        rc = 0
    except OSError as exc:
        rc = exc.errno
    emu.set_faults("")
    canceled = emu.job(job["id"])["state"] == "canceled"
    if rc == 0:
        assert canceled, "rm returned 0 but the job is %s" % \
            emu.job(job["id"])["state"]
        assert "x.pdf" not in os.listdir(queue)
    else:
        assert rc in (errno.EIO, errno.EAGAIN, errno.ECONNRESET,
                      errno.EPROTO), errno.errorcode[rc]
        assert not canceled, "rm failed (%s) but the job was canceled" % \
            errno.errorcode[rc]
        assert "x.pdf" in os.listdir(queue)


@pytest.mark.parametrize("left", ["completed", "aborted", "canceled",
                                  "deleted"])
def test_rm_of_a_job_that_left_the_queue(start_emulator, upfs_mount,
                                         workdir, left):
    """The job finished (or was cancelled, or deleted) at the service while
    queue/ still lists it: rm says it is gone (ENOENT), or 0 where it was
    cancelled as asked, not EINVAL for the cancel the service refused, and
    the name goes."""
    emu, mount, queue, job = printing_job(start_emulator, upfs_mount,
                                          workdir)
    assert "x.pdf" in os.listdir(queue)
    if left == "deleted":
        emu.delete_job(job["id"])
    else:
        emu.patch_job(job["id"], state=left)
    rc = util.call_errno(lambda: os.unlink(os.path.join(queue, "x.pdf")))
    assert rc == (0 if left == "canceled" else errno.ENOENT), \
        errno.errorcode.get(rc, rc)
    assert "x.pdf" not in os.listdir(queue)
    if left != "deleted":
        assert emu.job(job["id"])["state"] == left


@pytest.mark.parametrize("left", [True, False], ids=["completed", "live"])
def test_rm_whose_cancel_is_refused_with_409(start_emulator, upfs_mount,
                                            workdir, left):
    """The reference does not say how a cancel the job's state refuses is
    answered: a 409 is read as a 400 is. A job that completed meanwhile
    has left the queue (ENOENT); one still printing keeps its name, and
    rm fails cleanly (EBUSY, the reason in .upfs/status)."""
    emu, mount, queue, job = printing_job(start_emulator, upfs_mount,
                                          workdir)
    if left:
        emu.patch_job(job["id"], state="completed")
    else:
        mount.expect_warning(r"cancel job.*HTTP 409")
    emu.set_faults("409:1,method=POST,route=/cancel$")
    rc = util.call_errno(lambda: os.unlink(os.path.join(queue, "x.pdf")))
    emu.set_faults("")
    assert rc == (errno.ENOENT if left else errno.EBUSY), \
        errno.errorcode.get(rc, rc)
    assert emu.job(job["id"])["state"] == ("completed" if left
                                           else "processing")
    if left:
        assert "x.pdf" not in os.listdir(queue)
    else:
        assert "x.pdf" in os.listdir(queue)
        assert "HTTP 409" in mount.status()["last_error"]


def test_a_share_that_names_no_printer(start_emulator, upfs_mount, workdir):
    """An account that may not read printers (no Printer.Read.All) is not
    shown a share's printer. Its queue/ still prints, lists, stats and
    removes jobs (the cancel goes through the share), a half-made job of a
    refused document is cancelled the same way, and reading a job's bytes,
    served only under its printer, is refused with the reason."""
    emu = start_emulator(extra_args=["--job-seconds", "60"])
    scopes = ("PrinterShare.ReadWrite.All PrintJob.ReadWrite.All "
              "PrintJob.Create User.Read.All Group.Read.All offline_access")
    token = emu.call("POST", "/_emulator/token",
                     {"upn": "admin@contoso.com", "scp": scopes})[1]
    mount = upfs_mount(emu, token=token["access_token"])
    mount.expect_warning(r"Printer\.Read\.All|createUploadSession|403")
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    assert not os.path.lexists(mount.p("shares", SHARE, "printer"))
    data = make_pdf("no printer")
    src = write_file(os.path.join(workdir, "x.pdf"), data)
    before = job_ids(emu, share["id"])
    util.run(["cp", src, queue + "/"])
    job = assert_printed_once(emu, share["id"], before, "x.pdf", data)
    path = os.path.join(queue, "x.pdf")
    assert os.stat(path).st_size == len(data)
    assert xattr(path, "id") == job["id"]
    with pytest.raises(OSError) as exc:
        with open(path, "rb") as fh:
            fh.read()
    assert exc.value.errno == errno.EACCES
    assert "Printer.Read.All" in mount.status()["last_error"], \
        mount.status()
    emu.reset_requests()
    os.unlink(path)
    assert emu.job(job["id"])["state"] == "canceled"
    assert emu.requests()["routes"].get(
        "POST /print/shares/{id}/jobs/{jid}/cancel") == 1, \
        emu.requests()["routes"]
    assert "x.pdf" not in os.listdir(queue)

    before = job_ids(emu, share["id"])
    emu.set_faults("403:1,route=createUploadSession,times=1")
    assert util.run(["cp", src, os.path.join(queue, "refused.pdf")],
                    check=False).returncode != 0
    [half] = new_jobs(emu, share["id"], before)
    assert half["state"] == "canceled", half


def test_job_status_follows_a_printed_job(emulator, upfs_mount, workdir):
    """The default emulator completes a started job after 2 s."""
    mount = upfs_mount(emulator, options=["status_ttl=1", "dir_ttl=1"])
    share = emulator.share_by_name(SHARE)
    data = make_pdf("status")
    src = write_file(os.path.join(workdir, "s.pdf"), data)
    before = job_ids(emulator, share["id"])
    util.run(["cp", src, mount.p("shares", SHARE, "queue") + "/"])
    job = assert_printed_once(emulator, share["id"], before, "s.pdf", data)
    status = mount.p("printers", PRINTER, "jobs", job["id"], "status")
    first = util.read_text(status)
    assert first.startswith("processing"), first
    util.wait_until(lambda: util.read_text(status).startswith("completed"),
                    timeout=10, what="the job's status to say completed")
    assert emulator.job(job["id"])["state"] == "completed"
    # A completed job leaves queue/.
    util.wait_until(lambda: "s.pdf" not in os.listdir(
        mount.p("shares", SHARE, "queue")), timeout=10,
        what="s.pdf to leave queue/")


def test_statfs_is_the_spool_disk(emulator, upfs_mount):
    """df and a file manager's free-space check before a copy see the disk
    that queue/ spools documents on (cache_dir), not 0 bytes free, which
    would refuse every copy."""
    mount = upfs_mount(emulator)
    got, disk = os.statvfs(mount.path), os.statvfs(mount.cache_dir)
    assert (got.f_frsize, got.f_blocks) == (disk.f_frsize, disk.f_blocks)
    assert got.f_bavail > 0 and got.f_namemax == 255
    df = util.run(["df", "-P", mount.path]).stdout.splitlines()[-1].split()
    assert int(df[1]) == disk.f_blocks * disk.f_frsize // 1024


LATIN1_NAME = b"caf\xe9.pdf"      # café.pdf in Latin-1: not UTF-8


def write_latin1_named(emulator, mount, what):
    """Writes a document called LATIN1_NAME into the share's queue/:
    (the share, its jobs before, the bytes)."""
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf(what)
    queue = os.fsencode(mount.p("shares", SHARE, "queue"))
    with open(os.path.join(queue, LATIN1_NAME), "wb") as fh:
        fh.write(data)
    return share, before, data


def test_a_name_that_is_not_utf8_prints(emulator, upfs_mount):
    """File names are bytes; a document's name at the service is text.
    A name that is not UTF-8 is sent with U+FFFD for each byte that is
    not, and the document prints. Its close() failed with ENOMEM (the
    upload session's JSON could not hold the name)."""
    mount = upfs_mount(emulator)
    share, before, data = write_latin1_named(emulator, mount, "latin-1")
    assert pending_entries(mount.p("shares", SHARE, "queue")) == []
    assert_printed_once(emulator, share["id"], before, "caf\ufffd.pdf",
                        data)


def test_a_name_that_is_not_utf8_waits_across_a_remount(emulator,
                                                         upfs_mount):
    """Spooled offline, its record keeps the name's exact bytes: queue/
    lists it as written, before and after a remount, and it prints."""
    mount = upfs_mount(emulator)
    cache = mount.cache_dir
    assert os.listdir(mount.p("shares", SHARE, "queue")) == []
    mount.unmount()
    for remounted in (False, True):
        mount = upfs_mount(emulator, cache_dir=cache, options=["offline"])
        if not remounted:
            share, before, data = write_latin1_named(emulator, mount,
                                                     "latin-1, offline")
        assert os.listdir(os.fsencode(mount.p(
            "shares", SHARE, "queue"))) == [LATIN1_NAME]
        mount.unmount()
    upfs_mount(emulator, cache_dir=cache)
    util.wait_until(lambda: [j for j in new_jobs(emulator, share["id"],
                                                 before)
                             if j["state"] in STARTED],
                    timeout=20, what="the spooled document printed")
    assert_printed_once(emulator, share["id"], before, "caf\ufffd.pdf",
                        data)


def test_appends_to_a_waiting_document_and_a_scratch_file(emulator,
                                                          upfs_mount,
                                                          workdir):
    """O_APPEND writes go at the end upfs holds, in queue/ (a dot name,
    local until its rename) as in a share's editor files."""
    mount = upfs_mount(emulator)
    share = emulator.share_by_name(SHARE)
    before = job_ids(emulator, share["id"])
    data = make_pdf("in two parts", 300 * 1024)
    parts = [os.path.join(workdir, p) for p in ("a", "b")]
    for path, part in zip(parts, (data[:100000], data[100000:])):
        with open(path, "wb") as fh:
            fh.write(part)
    queue = mount.p("shares", SHARE, "queue")
    util.run(["sh", "-c", 'cat "$1" > .two.pdf && cat "$2" >> .two.pdf && '
              'mv .two.pdf two.pdf', "sh"] + parts, cwd=queue)
    assert_printed_once(emulator, share["id"], before, "two.pdf", data)
    d = mount.p("shares", SHARE)
    util.run(["sh", "-c", "echo one > notes.tmp && echo two >> notes.tmp"],
             cwd=d)
    assert util.read_text(os.path.join(d, "notes.tmp")) == "one\ntwo\n"


def renameat2(old, new, flags):
    """renameat2(2) through libc: 0, or the errno."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    rc = libc.renameat2(at_fdcwd, old.encode(), at_fdcwd, new.encode(),
                        ctypes.c_uint(flags))
    return 0 if rc == 0 else ctypes.get_errno()


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def test_rename_noreplace_in_queue(emulator, upfs_mount, workdir):
    """mv tries RENAME_NOREPLACE first: a name that is taken is EEXIST, a
    free one is the rename at hand-over (the document prints); EXCHANGE
    means nothing here (EINVAL). It was EINVAL for both, and mv fell
    back to a rename that could replace."""
    share = emulator.share_by_name(SHARE)
    mount = upfs_mount(emulator)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emulator, share["id"])
    first = make_pdf("first")
    util.run(["cp", write_file(os.path.join(workdir, "taken.pdf"), first),
              queue + "/"])
    data = make_pdf("second")
    write_file(os.path.join(queue, ".second.pdf"), data)
    assert renameat2(os.path.join(queue, ".second.pdf"),
                     os.path.join(queue, "taken.pdf"),
                     RENAME_NOREPLACE) == errno.EEXIST
    assert renameat2(os.path.join(queue, ".second.pdf"),
                     os.path.join(queue, "taken.pdf"),
                     RENAME_EXCHANGE) == errno.EINVAL
    assert renameat2(os.path.join(queue, ".second.pdf"),
                     os.path.join(queue, "second.pdf"),
                     RENAME_NOREPLACE) == 0
    util.wait_until(lambda: pending_entries(queue) == [], timeout=30,
                    what="the renamed document to be sent")
    assert len(new_jobs(emulator, share["id"], before)) == 2
    assert_printed_once(emulator, share["id"], before | {
        j["id"] for j in new_jobs(emulator, share["id"], before)
        if j.get("documentName") == "taken.pdf"}, "second.pdf", data)

