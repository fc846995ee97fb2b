"""Living on a real Linux system: `meson install` lays out binaries, man
pages, the example config and fstab lines and the systemd user unit; the
man pages render; the unit is valid and runs `upfsctl mount`; an /etc/fstab
line and `mount -t fuse3` mount through mount.fuse3; the example config
documents every option. Building the Debian package takes a minute: it
runs only with UPFS_TEST_DEB=1."""

import contextlib
import os
import re
import shutil
import subprocess
import time

import pytest

import signin
import util
from signin import Home

PKG = os.path.join(util.REPO_DIR, "packaging")
MAN_PAGES = ("upfs.1", "upfsctl.1")


def meson_install(destdir):
    util.run(["meson", "install", "-C", util.build_dir(), "--destdir",
              destdir, "--no-rebuild", "--quiet"], timeout=120)
    found = {}
    for root, _, files in os.walk(destdir):
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, destdir)] = path
    return found


def one(found, suffix):
    hits = [rel for rel in found if rel.endswith(suffix)]
    assert len(hits) == 1, "%s: %r" % (suffix, sorted(found))
    return hits[0]


def upfs_options_from_help():
    """The -o option names `upfs --help` lists."""
    out = util.run([util.upfs_binary(), "--help"]).stdout
    names = set(re.findall(r"^  ([a-z_]+)=", out, re.MULTILINE))
    names |= set(re.findall(r"^  ([a-z_]+)\s{2,}", out, re.MULTILINE))
    for line in re.findall(r"^  ([a-z_]+(?:, [a-z_]+=?N?)+)", out,
                           re.MULTILINE):
        names |= {w.rstrip("=N") for w in line.split(", ")}
    assert {"endpoint", "token_file", "dir_ttl", "offline"} <= names, names
    return names


def test_meson_install_lays_out_the_files(workdir):
    found = meson_install(os.path.join(workdir, "dest"))
    prefix_bin = os.path.dirname(one(found, "bin/upfs"))
    for suffix in ("bin/upfs", "bin/upfsctl", "share/man/man1/upfs.1",
                   "share/man/man1/upfsctl.1",
                   "share/doc/upfs/upfs.conf.example",
                   "share/doc/upfs/fstab.example",
                   "lib/systemd/user/upfs@.service"):
        rel = one(found, suffix)
        assert rel.startswith(os.path.dirname(prefix_bin)), rel
    for exe in ("bin/upfs", "bin/upfsctl"):
        assert os.access(found[one(found, exe)], os.X_OK)
    unit = util.read_text(found[one(found, "upfs@.service")])
    # The unit runs the installed upfsctl, from the install prefix.
    assert "ExecStart=/%s/upfsctl mount %%i -- -f\n" % prefix_bin in unit
    assert "@BINDIR@" not in unit


@pytest.mark.skipif(not shutil.which("man"), reason="man-db is not installed")
@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_pages_render(page):
    proc = util.run(["man", "--warnings", "-l", os.path.join(PKG, page)],
                    env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING=""))
    assert proc.stderr == "", proc.stderr
    text = proc.stdout
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS",
                    "FILES", "SEE ALSO"):
        assert re.search(r"^%s" % section, text, re.MULTILINE), section
    if page == "upfs.1":
        for name in upfs_options_from_help():
            assert name in text, "upfs.1 does not document %r" % name
        assert "session expired: run 'upfsctl login PROFILE'" in text
        assert "SIGHUP" in text
    else:
        for cmd in ("login", "logout", "status", "mount", "umount"):
            assert re.search(r"^       %s\b" % cmd, text, re.MULTILINE), cmd


def test_example_config_lists_every_option_and_parses(emulator,
                                                      upfs_mount):
    text = util.read_text(os.path.join(PKG, "upfs.conf.example"))
    for name in upfs_options_from_help() | {"mountpoint", "scope"}:
        assert re.search(r"^#%s\b" % name, text, re.MULTILINE), \
            "the example config does not show %r" % name
    m = upfs_mount(emulator, profile="default",
                   env={"UPFS_CONFIG": os.path.join(PKG,
                                                    "upfs.conf.example")})
    assert m.status()["dir_ttl"] == "60"


@pytest.mark.skipif(not shutil.which("systemd-analyze"),
                    reason="systemd-analyze is not installed")
def test_systemd_unit_is_valid(workdir):
    found = meson_install(os.path.join(workdir, "dest"))
    unit = util.read_text(found[one(found, "upfs@.service")])
    # Point it at this build, which exists, and check it as an instance.
    ctl = os.path.abspath(os.path.join(util.build_dir(), "tools",
                                       "upfsctl"))
    unit = re.sub(r"/\S*/upfsctl", ctl, unit)
    units = os.path.join(workdir, "units")
    os.mkdir(units)
    with open(os.path.join(units, "upfs@.service"), "w") as fh:
        fh.write(unit)
    os.symlink("upfs@.service", os.path.join(units, "upfs@work.service"))
    proc = util.run(["systemd-analyze", "verify", "--man=no",
                     os.path.join(units, "upfs@work.service")], check=False)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    assert "ExecStopPost=-%s umount %%i" % ctl in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit


# --- mounting the way a system does ---------------------------------------------

def daemons_of(path):
    """pids of upfs processes serving path (read from /proc)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                args = fh.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"/upfs") and path.encode() in args:
            pids.append(int(pid))
    return pids


@pytest.fixture
def system_mount(workdir):
    """A mountpoint for mount(8); teardown unmounts it and requires the
    daemon to exit by itself."""
    mnt = os.path.join(workdir, "sysmnt")
    os.mkdir(mnt)
    yield mnt
    if util.in_mount_table(mnt):
        subprocess.call(["umount", mnt])
        util.unmount_path(mnt)
    deadline = time.monotonic() + util.scaled(10)
    while daemons_of(mnt) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = daemons_of(mnt)
    for pid in left:            # ours: started by this test's mount(8)
        os.kill(pid, 9)
    assert not left, "upfs did not exit after the unmount"


needs_mount = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mount.fuse3"),
    reason="needs root and mount.fuse3 to run mount(8)")


def signed_in_profile(workdir, emu, profile="work"):
    """A config folder (kept by mount(8), unlike $HOME) with the profile
    and a session for it."""
    home = Home(workdir, emu, profile)
    home.write_session(signin.mint_refresh(emu))
    env = dict(home.env)
    env["XDG_CONFIG_HOME"] = os.path.join(home.path, ".config")
    return home, env


@needs_mount
def test_fstab_line_mounts_through_mount_fuse3(emulator, workdir,
                                               system_mount):
    home, env = signed_in_profile(workdir, emulator)
    fstab = os.path.join(workdir, "fstab")
    upfs = util.upfs_binary()   # mount(8) runs helpers with a bare PATH
    with open(fstab, "w") as fh:
        fh.write("# a test fstab\n%s#work %s fuse3 noauto,_netdev,user,"
                 "nofail,cache_dir=%s 0 0\n"
                 % (upfs, system_mount, os.path.join(workdir, "cache")))
    util.run(["mount", "-T", fstab, system_mount], env=env)
    assert util.in_mount_table(system_mount)
    assert "Floor3 LaserJet" in os.listdir(os.path.join(system_mount,
                                                        "printers"))
    with open(os.path.join(system_mount, ".upfs", "status")) as fh:
        status = fh.read()
    assert "token_source: session\n" in status
    assert "endpoint: %s\n" % emulator.endpoint in status
    with open("/proc/self/mounts") as fh:
        line = [ln for ln in fh if " %s " % system_mount in ln][0]
    assert line.split()[2] in ("fuse", "fuse.upfs"), line
    util.run(["umount", system_mount])


@needs_mount
def test_mount_t_fuse3_with_options(emulator, workdir, system_mount):
    token = os.path.join(workdir, "token")
    with open(token, "w") as fh:
        fh.write(emulator.mint_token() + "\n")
    os.chmod(token, 0o600)
    home = Home(workdir, None, "test")
    util.run(["mount", "-t", "fuse3", util.upfs_binary() + "#test",
              system_mount, "-o", "noauto,_netdev,user,endpoint=%s,"
              "token_file=%s,cache_dir=%s,dir_ttl=17"
              % (emulator.endpoint, token, os.path.join(workdir, "c"))],
             env=home.env)
    with open(os.path.join(system_mount, ".upfs", "status")) as fh:
        assert "dir_ttl: 17\n" in fh.read()
    assert os.listdir(os.path.join(system_mount, "shares"))
    util.run(["umount", system_mount])


@contextlib.contextmanager
def profile_mount(workdir, env, mnt, where):
    """upfsctl mount work [where] -- -f: the mount at mnt while the block
    runs, which must unmount it; the daemon's exit and log are checked."""
    log = open(os.path.join(workdir, "upfsctl-mount.log"), "wb")
    proc = subprocess.Popen([signin.upfsctl_binary(), "mount", "work"] +
                            where + ["--", "-f", "-o", "cache_dir=" +
                                     os.path.join(workdir, "cache")],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        util.wait_until(lambda: os.path.ismount(mnt) or proc.poll(),
                        timeout=20, what="the profile's mount")
        assert proc.poll() is None, util.read_text(log.name)
        assert "Floor3 LaserJet" in os.listdir(os.path.join(mnt,
                                                            "printers"))
        yield
        assert proc.wait(util.scaled(20)) == 0
        assert not util.in_mount_table(mnt)
    finally:
        if proc.poll() is None:
            util.unmount_path(mnt)
            proc.wait(util.scaled(20))
    log_text = util.read_text(log.name)
    assert not re.search(r"^upfs: (warning|error)", log_text, re.MULTILINE), \
        log_text


def test_upfsctl_mount_and_umount_a_profile(emulator, workdir):
    """What upfs@PROFILE.service runs: the profile's mountpoint."""
    home, env = signed_in_profile(workdir, emulator)
    with open(home.config_path, "a") as fh:
        fh.write("mountpoint = ~/print/here\n")
    mnt = os.path.join(home.path, "print", "here")
    with profile_mount(workdir, env, mnt, []):
        util.run([signin.upfsctl_binary(), "umount", "work"], env=env)


def test_upfsctl_umount_a_mounted_folder_named_without_a_slash(emulator,
                                                                workdir):
    """upfsctl umount here, in the folder that holds the mount here: the
    profile here has no mount (its ~/print/here), so the folder is meant;
    it used to run fusermount3 -u on ~/print/here and fail."""
    home, env = signed_in_profile(workdir, emulator)
    mnt = os.path.join(workdir, "here")
    with profile_mount(workdir, env, mnt, [mnt]):
        util.run([signin.upfsctl_binary(), "umount", "here"], env=env,
                 cwd=workdir)


@pytest.mark.skipif(os.environ.get("UPFS_TEST_DEB") != "1",
                    reason="building the .deb takes a minute: set "
                           "UPFS_TEST_DEB=1")
def test_debian_package_builds(workdir):
    for tool in ("dpkg-buildpackage", "dh"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (apt-get install debhelper)"
                        % tool)
    out = os.path.join(workdir, "deb")
    util.run([os.path.join(PKG, "build-deb"), out], timeout=900)
    debs = [n for n in os.listdir(out) if re.match(r"upfs_.*\.deb$", n)]
    assert len(debs) == 1, os.listdir(out)
    deb = os.path.join(out, debs[0])
    files = util.run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/bin/upfs", "./usr/bin/upfsctl",
                 "./usr/share/man/man1/upfs.1.gz",
                 "./usr/share/man/man1/upfsctl.1.gz",
                 "./usr/lib/systemd/user/upfs@.service",
                 "./usr/share/doc/upfs/upfs.conf.example",
                 "./usr/share/doc/upfs/fstab.example"):
        assert path in files, path
    info = util.run(["dpkg-deb", "-I", deb]).stdout
    assert re.search(r"Depends: .*libfuse3-3.*fuse3", info), info
    util.run(["dpkg", "--dry-run", "-i", deb])
