"""The command line: help, version, usage errors, mountpoint checks and
sign-in failures. Each failure is one `upfs: ` line and a documented exit
code, before anything is mounted, without hanging."""

import os
import subprocess
import time

import pytest

import util


def run_upfs(args, env=None, timeout=15, cwd=None):
    """Runs upfs expecting it to exit by itself. If it mounted or hung, the
    mount is taken down and the test fails."""
    cmd = [util.upfs_binary()] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            errors="replace", env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL)
    start = time.monotonic()
    try:
        out, err = proc.communicate(timeout=util.scaled(timeout))
    except subprocess.TimeoutExpired:
        for a in args:
            if util.in_mount_table(a):
                util.unmount_path(a)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail("upfs %s did not exit within %ss (hang)\nstderr: %s"
                    % (" ".join(args), timeout, err))
    finally:
        for a in args:
            if util.in_mount_table(a):
                util.unmount_path(a)
                pytest.fail("upfs %s mounted %s; it should have refused"
                            % (" ".join(args), a))
    return proc.returncode, out, err, time.monotonic() - start


def one_upfs_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, "wanted one stderr line, got %r" % err
    assert lines[0].startswith("upfs: "), lines[0]
    return lines[0]


@pytest.fixture
def env(workdir):
    home = os.path.join(workdir, "home")
    os.mkdir(home)
    return util.base_env(home)


@pytest.fixture
def mnt(workdir):
    path = os.path.join(workdir, "mnt")
    os.mkdir(path)
    return path


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag, env):
    rc, out, err, _ = run_upfs([flag], env)
    assert rc == 0, err
    text = out + err
    assert "MOUNTPOINT" in text
    for opt in ("endpoint=", "token_file=", "cache_dir=", "dir_ttl=",
                "status_ttl=", "low_speed_time=", "request_timeout=",
                "offline"):
        assert opt in text, "--help does not mention %s" % opt


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag, env):
    rc, out, err, _ = run_upfs([flag], env)
    assert rc == 0, err
    assert "upfs" in out and any(c.isdigit() for c in out), out


@pytest.mark.parametrize("opts", [
    "bogus=1",
    "dir_ttl=abc",
    "status_ttl=-3",
    "dir_ttl=",
    "uid=nobody-at-all",
    "low_speed_time=0",         # 0 s would end every request at once
    "request_timeout=soon",
])
def test_bad_option_exits_2(opts, env, mnt, emulator, workdir):
    token = os.path.join(workdir, "token")
    with open(token, "w") as fh:
        fh.write(emulator.mint_token())
    os.chmod(token, 0o600)
    rc, _, err, _ = run_upfs(
        ["test", mnt, "-f", "-o", "endpoint=%s,token_file=%s,%s"
         % (emulator.endpoint, token, opts)], env)
    assert rc == 2, (rc, err)
    line = one_upfs_line(err)
    key = opts.split("=")[0]
    assert key in line, "the message does not name %r: %s" % (key, line)
    assert emulator.request_total() == 0


def test_plain_http_to_another_machine_is_refused(env, mnt, workdir):
    """A token sent over plain http to another machine crosses the network
    readable: only https, or http to this machine (an emulator), is
    taken. Nothing is asked of the service."""
    token = os.path.join(workdir, "token")
    with open(token, "w") as fh:
        fh.write("x")
    os.chmod(token, 0o600)
    for host in ("192.0.2.1", "127.0.0.1.example.net"):
        rc, _, err, _ = run_upfs(
            ["test", mnt, "-f", "-o", "endpoint=http://%s/v1.0,"
             "token_file=%s" % (host, token)], env)
        assert rc != 0, (rc, err)
        line = one_upfs_line(err)
        assert "plain http to another machine" in line, line


def test_unknown_flag_exits_2(env, mnt):
    rc, _, err, _ = run_upfs(["test", mnt, "--frobnicate"], env)
    assert rc == 2, (rc, err)
    one_upfs_line(err)


def test_missing_mountpoint(env, workdir):
    path = os.path.join(workdir, "no-such-dir")
    rc, _, err, _ = run_upfs(["test", path, "-f"],
                             dict(env, UPFS_ACCESS_TOKEN="x"))
    assert rc == 1, (rc, err)
    line = one_upfs_line(err)
    assert line.startswith("upfs: mountpoint '%s'" % path), line
    assert not os.path.exists(path)


def test_mountpoint_not_a_directory(env, workdir):
    path = os.path.join(workdir, "file")
    with open(path, "w") as fh:
        fh.write("x")
    rc, _, err, _ = run_upfs(["test", path, "-f"],
                             dict(env, UPFS_ACCESS_TOKEN="x"))
    assert rc == 1, (rc, err)
    line = one_upfs_line(err)
    assert line.startswith("upfs: mountpoint '%s'" % path), line
    assert "not a directory" in line


def test_mountpoint_not_empty(env, mnt):
    with open(os.path.join(mnt, "keep"), "w") as fh:
        fh.write("mine")
    rc, _, err, _ = run_upfs(["test", mnt, "-f"],
                             dict(env, UPFS_ACCESS_TOKEN="x"))
    assert rc == 1, (rc, err)
    line = one_upfs_line(err)
    assert line.startswith("upfs: mountpoint '%s'" % mnt), line
    assert "not empty" in line
    assert os.listdir(mnt) == ["keep"]


def test_not_signed_in(env, mnt, emulator, workdir):
    rc, _, err, elapsed = run_upfs(
        ["work", mnt, "-f", "-o", "endpoint=%s,cache_dir=%s"
         % (emulator.endpoint, os.path.join(workdir, "cache"))], env)
    assert rc == 1, (rc, err)
    line = one_upfs_line(err)
    assert line.startswith("upfs: not signed in: run 'upfsctl login work'"), \
        line
    assert emulator.request_total() == 0


@pytest.mark.parametrize("kind", ["expired", "garbage", "env-expired"])
def test_refused_token_exits_1(kind, env, mnt, emulator, workdir):
    if kind == "garbage":
        token = "not-a-token.at-all"
    else:
        token = emulator.mint_token(expires_in=-60)
    args = ["test", mnt, "-f", "-o", "endpoint=%s,authority=%s,cache_dir=%s"
            % (emulator.endpoint, emulator.authority,
               os.path.join(workdir, "cache"))]
    if kind == "env-expired":
        env = dict(env, UPFS_ACCESS_TOKEN=token)
    else:
        path = os.path.join(workdir, "token")
        with open(path, "w") as fh:
            fh.write(token + "\n")
        os.chmod(path, 0o600)
        args[-1] += ",token_file=" + path
    rc, _, err, elapsed = run_upfs(args, env, timeout=20)
    assert rc == 1, (rc, err)
    line = one_upfs_line(err)
    assert line.startswith("upfs: the service refused the access token"), \
        line
    assert token not in err, "the token leaked into the message"
    assert elapsed < util.scaled(10), "took %.1fs" % elapsed
    assert not os.path.ismount(mnt)


def test_sigterm_unmounts_cleanly(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    assert os.listdir(mount.p("printers"))
    mount.proc.terminate()
    rc = mount.wait_exit()
    assert not os.path.ismount(mount.path)
    # A stop by SIGTERM (systemctl stop, shutdown) is a clean exit.
    assert rc == 0, mount.log()


def test_debug_log_never_shows_the_token(emulator, upfs_mount):
    token = emulator.mint_token()
    mount = upfs_mount(emulator, token=token, debug=True)
    util.run(["ls", "-lR", mount.p("shares"), mount.p("printers")])
    util.run(["cat", mount.p("settings.json")])
    log = mount.log()
    assert "debug" in log, "-d logs nothing at debug level"
    assert token not in log
    assert token[:24] not in log
    assert "Bearer" not in log and "authorization:" not in log.lower()


def test_uid_gid_options(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=["uid=1234", "gid=4321"])
    for path in (mount.path, mount.p("printers"), mount.p("settings.json"),
                 mount.p("shares", "Floor3", "printer")):
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (1234, 4321), path
