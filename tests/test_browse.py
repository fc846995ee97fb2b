"""Browsing the demo tenant: every folder, file, link and xattr of the
tree against the emulator's state, and the everyday programs (ls, cat,
find, grep, getfattr) on it. Writes are refused and change nothing."""

import errno
import json
import os
import stat

import pytest

import util
from util import (assert_json_equal, expected_names, read_json, read_text,
                  status_line, strip_links, xattr)


class Tenant:
    """The emulator's state with the names upfs should give each object."""

    def __init__(self, state):
        self.state = state
        self.printers = {p["id"]: p for p in state["printers"]}
        self.shares = {s["id"]: s for s in state["shares"]}
        self.jobs = {j["id"]: j for j in state["jobs"]}
        self.connectors = {c["id"]: c for c in state["connectors"]}
        self.pname = expected_names(state["printers"])
        self.sname = expected_names(state["shares"])
        self.cname = expected_names(state["connectors"])

    def jobs_of_printer(self, pid):
        return [j for j in self.jobs.values() if j["printerId"] == pid]

    def jobs_of_share(self, sid):
        return [j for j in self.jobs.values() if j.get("shareId") == sid]


@pytest.fixture
def tenant(emulator):
    return Tenant(emulator.state())


def test_top_level(mount, tenant):
    names = set(os.listdir(mount.path))
    assert {"shares", "printers", "connectors", "settings.json",
            ".upfs"} <= names, names
    assert read_json(mount.p("settings.json")) == tenant.state["settings"]
    assert os.listdir(mount.p(".upfs")) == ["status"]


@pytest.mark.parametrize("folder", ["printers", "shares", "connectors"])
def test_folder_names(mount, tenant, folder):
    want = {"printers": tenant.pname, "shares": tenant.sname,
            "connectors": tenant.cname}[folder]
    ls = util.run(["ls", "-1", mount.p(folder)])
    assert sorted(ls.stdout.splitlines()) == sorted(want.values())
    assert sorted(os.listdir(mount.p(folder))) == sorted(want.values())
    for oid, name in want.items():
        path = mount.p(folder, name)
        assert stat.S_ISDIR(os.lstat(path).st_mode), path
        assert xattr(path, "id") == oid, path


def test_printers(mount, tenant):
    for pid, p in tenant.printers.items():
        d = mount.p("printers", tenant.pname[pid])
        what = "printer %r" % p["displayName"]
        assert set(os.listdir(d)) >= {
            "status", "printer.json", "capabilities.json", "defaults.json",
            "location.json", "jobs", "shares"}, what

        assert read_text(os.path.join(d, "status")) == \
            status_line(p["status"]), what
        got = read_json(os.path.join(d, "printer.json"))
        assert_json_equal(got, strip_links(p, "shareIds", "connectorIds"),
                          what + " printer.json")
        for member in ("capabilities", "defaults", "location"):
            got = read_json(os.path.join(d, member + ".json"))
            assert got == p[member], "%s %s.json" % (what, member)

        assert xattr(d, "id") == pid
        assert xattr(d, "state") == p["status"]["state"]
        assert xattr(d, "status") == status_line(p["status"]).rstrip("\n")
        assert xattr(d, "manufacturer") == p["manufacturer"]
        assert xattr(d, "model") == p["model"]
        assert xattr(d, "shared") == str(p["isShared"]).lower()
        assert xattr(d, "location"), what
        for f in ("status", "printer.json", "capabilities.json"):
            assert xattr(os.path.join(d, f), "id") == pid, f

        # shares/ of the printer: links to the share folders
        links = os.listdir(os.path.join(d, "shares"))
        assert sorted(links) == sorted(tenant.sname[s] for s in p["shareIds"])
        for sid in p["shareIds"]:
            link = os.path.join(d, "shares", tenant.sname[sid])
            assert os.readlink(link) == "../../../shares/" + tenant.sname[sid]
            assert os.path.realpath(link) == os.path.realpath(
                mount.p("shares", tenant.sname[sid]))
            assert xattr(link, "id") == sid


def test_printer_jobs(mount, tenant):
    for pid, p in tenant.printers.items():
        d = mount.p("printers", tenant.pname[pid], "jobs")
        jobs = tenant.jobs_of_printer(pid)
        assert sorted(os.listdir(d)) == sorted(j["id"] for j in jobs), \
            p["displayName"]
        for job in jobs:
            jd = os.path.join(d, job["id"])
            assert set(os.listdir(jd)) >= {"job.json", "status", "ctl",
                                           "documents"}
            assert read_text(os.path.join(jd, "status")) == \
                status_line(job["status"]), jd
            got = read_json(os.path.join(jd, "job.json"))
            assert_json_equal(got, strip_links(job, "printerId", "shareId"),
                              "job %s job.json" % job["id"])
            doc = job["documents"][0]
            assert xattr(jd, "id") == job["id"]
            assert xattr(jd, "state") == job["status"]["state"]
            assert xattr(jd, "document") == doc["displayName"]
            assert xattr(jd, "size") == str(doc["size"])
            assert xattr(jd, "created_by") in (
                job["createdBy"]["userPrincipalName"],
                job["createdBy"]["displayName"])
            assert xattr(os.path.join(jd, "status"), "id") == job["id"]


def test_shares(mount, tenant):
    for sid, s in tenant.shares.items():
        d = mount.p("shares", tenant.sname[sid])
        what = "share %r" % s["displayName"]
        assert set(os.listdir(d)) >= {
            "share.json", "printer", "allowed_users", "allowed_groups",
            "allow_all_users", "queue", "jobs"}, what
        printer = tenant.printers[s["printerId"]]

        got = read_json(os.path.join(d, "share.json"))
        want = strip_links(s, "printerId", "allowedUsers", "allowedGroups")
        want["printer"] = {"id": printer["id"],
                           "displayName": printer["displayName"]}
        for key in ("allowedUsers", "allowedGroups"):
            got.pop(key, None)      # optional in share.json
        assert_json_equal(got, want, what + " share.json")

        link = os.path.join(d, "printer")
        assert stat.S_ISLNK(os.lstat(link).st_mode)
        assert os.readlink(link) == "../../printers/" + \
            tenant.pname[printer["id"]]
        assert os.path.realpath(link) == os.path.realpath(
            mount.p("printers", tenant.pname[printer["id"]]))
        assert xattr(link, "id") == printer["id"]

        users = sorted(u["userPrincipalName"] for u in s["allowedUsers"])
        assert read_text(os.path.join(d, "allowed_users")) == \
            "".join(u + "\n" for u in users), what
        groups = sorted(g["displayName"] for g in s["allowedGroups"])
        assert read_text(os.path.join(d, "allowed_groups")) == \
            "".join(g + "\n" for g in groups), what
        assert read_text(os.path.join(d, "allow_all_users")) == \
            ("true\n" if s["allowAllUsers"] else "false\n"), what
        assert xattr(d, "id") == sid
        assert xattr(d, "allow_all_users") == str(s["allowAllUsers"]).lower()
        for f in ("share.json", "allowed_users", "allow_all_users"):
            assert xattr(os.path.join(d, f), "id") == sid, f

        jobs = tenant.jobs_of_share(sid)
        assert sorted(os.listdir(os.path.join(d, "jobs"))) == \
            sorted(j["id"] for j in jobs), what
        for job in jobs:
            jl = os.path.join(d, "jobs", job["id"])
            assert os.readlink(jl) == "../../../printers/%s/jobs/%s" % (
                tenant.pname[printer["id"]], job["id"])
            assert os.path.isdir(jl)
            assert xattr(jl, "id") == job["id"]


def test_queue(mount, tenant):
    seen_live = 0
    for sid, s in tenant.shares.items():
        q = mount.p("shares", tenant.sname[sid], "queue")
        want = util.expected_queue(tenant.jobs_of_share(sid))
        names = os.listdir(q)
        assert sorted(names) == sorted(want), s["displayName"]
        used = set()
        for name in names:
            path = os.path.join(q, name)
            st = os.stat(path)
            assert stat.S_ISREG(st.st_mode), path
            jid = xattr(path, "id")
            assert jid in want[name] and jid not in used, (name, jid)
            used.add(jid)
            job = tenant.jobs[jid]
            doc = job["documents"][0]
            # What can be read: nothing until the upload has finished.
            assert st.st_size == (doc["size"] if doc.get("uploadedDateTime")
                                  else 0), path
            assert xattr(path, "state") == job["status"]["state"]
            assert xattr(path, "document") == doc["displayName"]
            assert xattr(path, "size") == str(doc["size"])
            assert xattr(path, "created_by") in (
                job["createdBy"]["userPrincipalName"],
                job["createdBy"]["displayName"])
            seen_live += 1
    assert seen_live >= 4      # the demo tenant has live jobs on 3 shares


def test_connectors(mount, tenant):
    for cid, c in tenant.connectors.items():
        d = mount.p("connectors", tenant.cname[cid])
        got = read_json(os.path.join(d, "connector.json"))
        assert_json_equal(got, strip_links(c, "printerIds"),
                          "connector %r" % c["displayName"])
        assert xattr(d, "id") == cid


def walk(root, skip_queue=True):
    """Every entry under root (not following links): (path, lstat). With
    skip_queue, not the documents' bytes (queue/ and jobs' documents/):
    those are binary, and test_admin.py checks them."""
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_queue and os.path.basename(dirpath) in ("queue",
                                                        "documents"):
            continue
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            yield path, os.lstat(path)


def test_sizes_and_ids_everywhere(mount):
    files = dirs = 0
    for path, st in walk(mount.path):
        if stat.S_ISREG(st.st_mode):
            data = util.read_bytes(path)
            assert st.st_size == len(data), path
            assert data == b"" or data.endswith(b"\n"), path
            files += 1
        elif stat.S_ISDIR(st.st_mode):
            dirs += 1
        elif not stat.S_ISLNK(st.st_mode):
            pytest.fail("unexpected file type %o at %s" % (st.st_mode, path))
        # Every object's entries carry its id; the fixed top-level folders,
        # settings.json, and the fixed folders of usage/ and archive/ stand
        # for no object.
        top = os.path.dirname(path) == mount.path
        rel = os.path.relpath(path, mount.path).split(os.sep)
        fixed = rel[0] in ("usage", "archive") and len(rel) == 2
        if not stat.S_ISLNK(st.st_mode) and not top and not fixed and \
                ".upfs" not in path:
            assert xattr(path, "id"), path
    assert files > 50 and dirs > 30


def test_find_runs_clean(mount, tenant):
    out = util.run(["find", mount.path, "-maxdepth", "4"])
    assert out.stderr == ""
    paths = set(out.stdout.splitlines())
    for pid in tenant.printers:
        assert mount.p("printers", tenant.pname[pid], "status") in paths
    for sid in tenant.shares:
        assert mount.p("shares", tenant.sname[sid], "allowed_users") in paths


def test_grep_finds_the_stopped_printer(mount, tenant):
    out = util.run(["grep", "-r", "toner", mount.p("printers")])
    assert out.stderr == ""
    stopped = [p for p in tenant.printers.values()
               if "tonerLow" in p["status"]["details"]]
    assert stopped
    for p in stopped:
        line = "%s:%s" % (mount.p("printers", tenant.pname[p["id"]],
                                  "status"),
                          status_line(p["status"]).rstrip("\n"))
        assert line in out.stdout.splitlines(), out.stdout


def test_cat_status_of_every_printer(mount, tenant):
    out = util.run("cat %s/printers/*/status" % mount.path, shell=True)
    want = sorted(status_line(p["status"]) for p in tenant.printers.values())
    assert sorted(out.stdout.splitlines(keepends=True)) == want


def test_getfattr_shows_ids(mount, tenant):
    out = util.run(["getfattr", "-d", "--absolute-names"] +
                   [mount.p("printers", n) for n in tenant.pname.values()])
    blocks = {}
    current = None
    for line in out.stdout.splitlines():
        if line.startswith("# file: "):
            current = line[len("# file: "):]
            blocks[current] = {}
        elif "=" in line and current:
            key, _, value = line.partition("=")
            blocks[current][key] = value.strip('"')
    for pid, name in tenant.pname.items():
        attrs = blocks.get(mount.p("printers", name))
        assert attrs is not None, "getfattr skipped %r: %s" % (
            name, out.stdout)
        assert attrs.get("user.upfs.id") == pid, attrs
        assert "user.upfs.state" in attrs and "user.upfs.model" in attrs


def test_ls_long_recursive(mount):
    out = util.run(["ls", "-lR", mount.p("shares")])
    assert out.stderr == ""
    out = util.run(["ls", "-lR", mount.p("printers")])
    assert out.stderr == ""
    assert "stopped" not in out.stdout     # names and sizes, no contents


def test_writes_are_refused(mount, emulator, tenant):
    before = emulator.state()
    emulator.reset_requests()
    refused = (errno.EROFS, errno.EACCES)
    a_printer = mount.p("printers", next(iter(tenant.pname.values())))
    a_share = mount.p("shares", next(iter(tenant.sname.values())))

    # Shares are made, renamed and removed with mkdir, mv and rmdir, and
    # their permission files are edited (test_shares.py); printers are
    # renamed and unregistered with mv and rmdir, and defaults.json,
    # location.json and settings.json are edited (test_admin.py): not here.
    for cmd in (["touch", mount.p("printers", "x")],
                ["mkdir", mount.p("printers", "x")],
                ["rm", os.path.join(a_printer, "status")],
                ["rm", os.path.join(a_share, "share.json")],
                ["sh", "-c", "echo x > '%s'" % os.path.join(
                    a_printer, "capabilities.json")],
                ["setfattr", "-n", "user.upfs.state", "-v", "idle",
                 a_printer]):
        out = util.run(cmd, check=False)
        assert out.returncode != 0, cmd
        assert ("Read-only file system" in out.stderr
                or "Permission denied" in out.stderr
                or "Operation not permitted" in out.stderr), (cmd, out.stderr)

    util.expect_errno(lambda: open(mount.p("printers", "x"), "w"), *refused)
    util.expect_errno(lambda: open(os.path.join(a_printer, "printer.json"),
                                   "w"), *refused)
    util.expect_errno(lambda: open(os.path.join(a_printer, "status"), "a"),
                      *refused)
    util.expect_errno(lambda: os.mkdir(mount.p("printers", "x")), *refused)
    util.expect_errno(lambda: os.mkdir(os.path.join(a_printer, "x")),
                      *refused)
    util.expect_errno(lambda: os.unlink(os.path.join(a_share, "printer")),
                      errno.EPERM)
    util.expect_errno(lambda: open(os.path.join(a_share, "share.json"),
                                   "w"), *refused)

    assert not os.path.exists(mount.p("printers", "x"))
    assert not os.path.exists(mount.p("shares", "x"))
    assert read_json(mount.p("settings.json")) == before["settings"]
    assert emulator.state() == before
    writes = {r: n for r, n in emulator.requests()["routes"].items()
              if not r.startswith("GET ")}
    assert writes == {}, writes


def test_upfs_status(mount, emulator):
    st = mount.status()
    assert st["state"] == "online"
    for key in ("cache_hits", "cache_misses", "graph_requests",
                "graph_retries"):
        assert st[key].isdigit(), (key, st[key])
    assert "last_error" in st
    before = int(st["graph_requests"])
    emu_before = emulator.request_total()
    os.listdir(mount.p("printers"))
    os.listdir(mount.p("connectors"))
    after = mount.status()
    assert int(after["graph_requests"]) > before
    assert int(after["graph_requests"]) - before == \
        emulator.request_total() - emu_before
    assert int(after["cache_misses"]) > int(st["cache_misses"])
    assert os.stat(mount.p(".upfs", "status")).st_size == \
        len(util.read_bytes(mount.p(".upfs", "status")))
    json.dumps(after)   # plain text keys and values


def thp_mode():
    """The kernel's transparent huge page mode ('always', 'madvise',
    'never'), or None without THP."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as fh:
            return fh.read().split("[", 1)[1].split("]", 1)[0]
    except (OSError, IndexError):
        return None


def test_the_heap_asks_for_huge_pages(mount):
    """Listings parse into megabytes of fresh heap, and on a VM each first
    touch of a small page traps: the daemon's heap asks for huge pages
    (in the default 'madvise' mode the kernel gives them to no one else)."""
    if thp_mode() in (None, "never"):
        pytest.skip("this kernel gives no transparent huge pages")
    if util.sanitizer_of(mount.proc.pid):
        pytest.skip("a sanitizer's (or valgrind's) allocator serves "
                    "malloc, not the heap")
    os.listdir(mount.p("printers"))
    advised, heap = 0, False
    with open("/proc/%d/smaps" % mount.proc.pid) as fh:
        for line in fh:
            if "-" in line.split(" ", 1)[0]:
                heap = line.rstrip().endswith("[heap]")
            elif heap and line.startswith("VmFlags:"):
                advised += " hg" in line
    assert advised >= 1, "no [heap] mapping of upfs is advised for THP"
