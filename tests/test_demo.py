"""The README's first command, tools/demo: it mounts the demo tenant of the
bundled emulator (building first, as UPFS_BUILD_DIR says, like the other
tests; tools/install-deps finds everything installed when tools/check ran
it first), and Ctrl-C unmounts it and stops every process it started."""
import os
import signal
import subprocess

import util

DEMO = os.path.join(util.REPO_DIR, "tools", "demo")


def group_members(pgid):
    """Pids of the live processes in process group pgid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp. Zombies are gone already.
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def test_the_demo_mounts_and_ctrl_c_stops_everything(workdir):
    mnt = os.path.join(workdir, "demo mnt")
    out_path = os.path.join(workdir, "demo.out")
    err_path = os.path.join(workdir, "demo.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        # Its own temporary folder (token, cache) under workdir.
        proc = subprocess.Popen([DEMO, mnt], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=workdir,
                                env=dict(os.environ, TMPDIR=workdir,
                                         UPFS_BUILD_DIR=util.build_dir()),
                                start_new_session=True)
    try:
        # The first run of a clean clone builds build/ before it mounts;
        # the demo says it is ready once the mount is up.
        util.wait_until(lambda: proc.poll() is not None or "mounted at %s"
                        % mnt in util.read_text(out_path), timeout=300,
                        what="the demo to say it mounted")
        assert proc.poll() is None, util.read_text(err_path)
        assert util.in_mount_table(mnt)
        shares = os.listdir(os.path.join(mnt, "shares"))
        printers = os.listdir(os.path.join(mnt, "printers"))
        assert shares and printers, (shares, printers)
        status = util.read_text(os.path.join(mnt, "printers", printers[0],
                                             "status"))
        assert status.strip(), printers[0]

        os.killpg(proc.pid, signal.SIGINT)      # what Ctrl-C sends
        proc.wait(util.scaled(60))
        assert not util.in_mount_table(mnt)
        assert "demo stopped" in util.read_text(err_path)
        util.wait_until(lambda: not group_members(proc.pid), timeout=20,
                        what="the demo's emulator and upfs to exit")
    finally:
        # On a failure: Ctrl-C first, so the demo's own clean-up runs.
        for sig, grace in ((signal.SIGINT, 15), (signal.SIGKILL, 0)):
            if proc.poll() is not None and not group_members(proc.pid):
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(util.scaled(grace) if grace else None)
            except subprocess.TimeoutExpired:
                pass
        util.unmount_path(mnt)
