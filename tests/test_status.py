"""Status files follow the service within status_ttl: a stale status is
refreshed on read, and its size always matches what a read returns (a
longer new line is not cut to the old size)."""

import os

import util
from util import read_bytes, status_line, xattr

FAST = ["status_ttl=1"]


def printer_dir(mount, emulator, display):
    state = emulator.state(only=["printers"])
    p = next(p for p in state["printers"] if p["displayName"] == display)
    return p, mount.p("printers", display)


def read_checked(path):
    """The content, with st_size checked against the bytes read both
    before and after the read."""
    size_before = os.stat(path).st_size
    data = read_bytes(path)
    size_after = os.stat(path).st_size
    assert size_after == len(data), (path, size_after, data)
    return data.decode(), size_before


def test_printer_status_follows_the_service(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=FAST)
    p, d = printer_dir(mount, emulator, "Floor3 LaserJet")
    path = os.path.join(d, "status")
    assert read_checked(path)[0] == "idle\n"

    new = {"state": "stopped", "details": ["coverOpen", "mediaEmpty",
                                           "outputAreaFull"],
           "description": "Cover open; tray empty"}
    emulator.patch_printer(p["id"], status=new)
    want = status_line(new)
    assert want == "stopped: coverOpen, mediaEmpty, outputAreaFull\n"
    util.wait_until(lambda: read_checked(path)[0] == want, timeout=10,
                    what="the new status line")
    # `cat` (what people run) sees the whole line, and ls -l its size.
    assert util.run(["cat", path]).stdout == want
    ls = util.run(["ls", "-l", path]).stdout.split()
    assert int(ls[4]) == len(want.encode())
    util.wait_until(lambda: xattr(d, "state") == "stopped", timeout=10,
                    what="user.upfs.state")

    # And back: a shorter line leaves no stale tail behind.
    emulator.patch_printer(p["id"], status={"state": "idle", "details": [],
                                            "description": ""})
    util.wait_until(lambda: read_checked(path)[0] == "idle\n", timeout=10,
                    what="the status back to idle")
    assert util.run(["cat", path]).stdout == "idle\n"


def test_status_is_cached_within_ttl(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=["status_ttl=600"])
    p, d = printer_dir(mount, emulator, "Reception Color")
    path = os.path.join(d, "status")
    first = read_checked(path)[0]
    assert first == "stopped: mediaJam, tonerLow\n"
    emulator.reset_requests()
    for _ in range(5):
        assert read_checked(path)[0] == first
        assert util.run(["cat", path]).stdout == first
    assert emulator.request_total() == 0, emulator.requests()


def test_job_status_follows_the_service(emulator, upfs_mount):
    state = emulator.state(only=["shares"])
    floor3 = next(s for s in state["shares"] if s["displayName"] == "Floor3")
    job = emulator.add_job(shareId=floor3["id"], state="pending",
                           documentName="Status test.pdf", size=1234)
    mount = upfs_mount(emulator, options=FAST + ["dir_ttl=1"])
    jd = mount.p("printers", "Floor3 LaserJet", "jobs", job["id"])
    path = os.path.join(jd, "status")
    assert read_checked(path)[0] == status_line(job["status"])
    assert "Status test.pdf" in os.listdir(mount.p("shares", "Floor3",
                                                   "queue"))

    emulator.patch_job(job["id"], state="processing")
    util.wait_until(lambda: read_checked(path)[0].startswith("processing"),
                    timeout=10, what="the job processing")

    done = emulator.patch_job(job["id"], state="completed")
    util.wait_until(lambda: read_checked(path)[0] ==
                    status_line(done["status"]), timeout=10,
                    what="the job completed")
    # A finished job leaves queue/ but stays in jobs/.
    util.wait_until(lambda: "Status test.pdf" not in os.listdir(
        mount.p("shares", "Floor3", "queue")), timeout=10,
        what="the job to leave queue/")
    assert job["id"] in os.listdir(mount.p("printers", "Floor3 LaserJet",
                                           "jobs"))


def test_token_file_is_reread(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=FAST)
    mount.expect_warning(r"401|refused|token")
    p, d = printer_dir(mount, emulator, "Floor3 LaserJet")
    path = os.path.join(d, "status")
    assert read_checked(path)[0] == "idle\n"

    with open(mount.token_file, "w") as fh:     # a token the service refuses
        fh.write("garbage-token\n")
    emulator.patch_printer(p["id"], status={"state": "stopped",
                                            "details": ["doorOpen"]})

    def refused():
        assert read_checked(path)[0] == "idle\n"    # stale, still served
        return "401" in mount.status()["last_error"] or \
            "token" in mount.status()["last_error"]

    util.wait_until(refused, timeout=10, what="a refused refresh")

    with open(mount.token_file + ".new", "w") as fh:
        fh.write(emulator.mint_token() + "\n")
    os.chmod(mount.token_file + ".new", 0o600)
    os.rename(mount.token_file + ".new", mount.token_file)
    util.wait_until(lambda: read_checked(path)[0] == "stopped: doorOpen\n",
                    timeout=10, what="the status with the new token")
