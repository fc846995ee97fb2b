"""Profiles in ~/.config/upfs/config: built-in defaults < [PROFILE] < -o,
every mount option settable, flags as bare words or yes/no, and errors
that name the file, the line and the reason, with exit status 2 and
nothing mounted."""

import os
import stat

import pytest

import util
from signin import Home

PROFILE = "test"    # the profile util.Mount mounts


def config_env(workdir, text, name="upfs.conf"):
    path = os.path.join(workdir, name)
    with open(path, "w") as fh:
        fh.write(text)
    return {"UPFS_CONFIG": path}


def run_upfs(home, *args):
    """upfs expected to refuse: it must exit by itself, mounting nothing."""
    proc = util.run([util.upfs_binary()] + list(args), check=False,
                    env=home.env, timeout=20)
    for a in args:
        assert not util.in_mount_table(a), "upfs mounted %s" % a
    return proc


@pytest.fixture
def mnt(workdir):
    path = os.path.join(workdir, "mnt")
    os.mkdir(path)
    return path


def test_defaults_then_profile_then_command_line(emulator, upfs_mount,
                                                 workdir):
    env = config_env(workdir, """\
# dir_ttl from the profile, status_ttl from the profile, -o wins for dir_ttl
[other]
dir_ttl = 1111
[test]
dir_ttl = 7
status_ttl = 3
""")
    m = upfs_mount(emulator, options=["dir_ttl=9"], env=env)
    status = m.status()
    assert status["dir_ttl"] == "9"          # -o beats the profile
    assert status["status_ttl"] == "3"       # the profile beats the default

    m2 = upfs_mount(emulator, env=config_env(workdir, "[test]\n", "e.conf"))
    assert m2.status()["dir_ttl"] == "60"    # the built-in default
    assert m2.status()["status_ttl"] == "5"
    assert m2.status()["low_speed_time"] == "30"
    assert m2.status()["request_timeout"] == "600"


def test_time_limits_from_the_profile_and_the_command_line(emulator,
                                                          upfs_mount,
                                                          workdir):
    env = config_env(workdir, "[test]\nlow_speed_time = 5\n"
                     "request_timeout = 0\n")
    m = upfs_mount(emulator, options=["low_speed_time=2"], env=env)
    status = m.status()
    assert status["low_speed_time"] == "2"   # -o beats the profile
    assert status["request_timeout"] == "0"  # 0: no limit


def test_every_mount_option_is_settable(emulator, upfs_mount, workdir):
    uid, gid = 4321, 8765
    cache = os.path.join(workdir, "cache, with a comma")
    token = os.path.join(workdir, "profile-token")
    with open(token, "w") as fh:
        fh.write(emulator.mint_token() + "\n")
    os.chmod(token, 0o600)
    env = config_env(workdir, """\
[test]
endpoint = %s
authority = %s
client_id = some-app
ca_file = /etc/ssl/certs/ca-certificates.crt
token_file = %s
cache_dir = %s
dir_ttl = 11
status_ttl = 12
offline = no
allow_other
default_permissions = yes
uid = %d
gid = %d
mountpoint = ~/print/test
scope = offline_access
""" % (emulator.endpoint, emulator.authority, token, cache, uid, gid))
    m = util.Mount(emulator, workdir, env=env)
    m.command = lambda: [util.upfs_binary(), PROFILE, m.path, "-f"]
    try:
        m.start()
        status = m.status()
        assert status["endpoint"] == emulator.endpoint
        assert status["cache_dir"] == os.path.realpath(cache)
        assert os.path.isdir(os.path.join(cache, "spool"))
        assert status["dir_ttl"] == "11" and status["status_ttl"] == "12"
        assert status["offline_option"] == "no"
        st = os.stat(m.p("printers"))
        assert (st.st_uid, st.st_gid) == (uid, gid)
        assert "Floor3 LaserJet" in os.listdir(m.p("printers"))
        with open("/proc/self/mounts") as fh:
            line = [ln for ln in fh if " %s " % m.path in ln][0]
        assert "allow_other" in line and "default_permissions" in line
    finally:
        m.unmount()
        m.kill_quietly()


def test_offline_flag_from_profile(emulator, upfs_mount, workdir):
    m = upfs_mount(emulator, env=config_env(workdir, "[test]\noffline\n"))
    assert m.status()["offline_option"] == "yes"


@pytest.mark.parametrize("text,line,reason", [
    ("[test]\ndir_ttl = 5\nfoo = 1\n", 3, "unknown option 'foo'"),
    ("[test]\n\n# c\nfoo\n", 4, "unknown option 'foo'"),
    ("[test]\ndir_ttl = soon\n", 2, "bad value in option 'dir_ttl=soon'"),
    ("[test]\noffline = perhaps\n", 2,
     "option 'offline' takes yes or no, not 'perhaps'"),
    ("[test]\nendpoint =\n", 2, "option 'endpoint' needs a value"),
    ("dir_ttl = 5\n[test]\n", 1,
     "option 'dir_ttl' is outside a [PROFILE] section"),
    ("[test\n", 1, "bad section header: write [PROFILE]"),
    ("[../x]\n", 1, "bad profile name '../x': use letters, digits, '.', "
                    "'-', '_' and '@'"),
    ("[test]\n= 5\n", 2, "missing option name before '='"),
    ("[test]\nfsname = x\nuid = -1\n", 3, "bad value in option 'uid=-1'"),
])
def test_config_errors_name_file_line_and_reason(workdir, mnt, text, line,
                                                 reason):
    home = Home(workdir, None, PROFILE)
    home.write_config(text)
    proc = run_upfs(home, PROFILE, mnt, "-f", "-o", "token_file=/dev/null")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "upfs: ~/.config/upfs/config:%d: %s\n" % (
        line, reason)


def test_other_profiles_are_checked_for_shape_only(emulator, upfs_mount,
                                                   workdir):
    env = config_env(workdir, "[else]\nno_such_option = 1\n[test]\n")
    m = upfs_mount(emulator, env=env)
    assert m.status()["dir_ttl"] == "60"


def test_unreadable_config_is_an_error(workdir, mnt):
    home = Home(workdir, None, PROFILE)
    os.makedirs(home.config_path)       # a folder where the file should be
    proc = run_upfs(home, PROFILE, mnt, "-f")
    assert proc.returncode == 2
    assert proc.stderr.startswith("upfs: ~/.config/upfs/config")


def test_bad_profile_name_on_the_command_line(workdir, mnt):
    home = Home(workdir, None, PROFILE)
    proc = run_upfs(home, "../etc", mnt, "-f")
    assert proc.returncode == 2
    assert proc.stderr.startswith("upfs: bad profile name '../etc'")


def test_a_client_secret_in_a_config_others_can_read_is_refused(workdir,
                                                                 mnt):
    """A secret others can read is a secret others can use: the profile
    file that holds client_secret must be private (the mount and upfsctl
    read it the same way)."""
    home = Home(workdir, None, PROFILE)
    home.write_config("[test]\nclient_id = app\nclient_secret = s3cret\n")
    os.chmod(home.config_path, 0o644)
    proc = run_upfs(home, PROFILE, mnt, "-f")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("upfs: ~/.config/upfs/config:3: client_secret "
                           "in a file group or others can read (mode "
                           "0644): chmod 600 it\n"), proc.stderr
    assert "s3cret" not in proc.stderr
    ctl = home.upfsctl("umount", PROFILE)
    assert ctl.returncode == 2 and "chmod 600 it" in ctl.stderr, ctl.stderr
    # Private, it is read (umount then finds nothing mounted).
    os.chmod(home.config_path, 0o600)
    ctl = home.upfsctl("umount", PROFILE)
    assert "client_secret" not in ctl.stderr, ctl.stderr


def test_help_works_with_a_broken_config(workdir):
    home = Home(workdir, None, PROFILE)
    home.write_config("garbage\n")
    proc = util.run([util.upfs_binary(), "--help"], env=home.env)
    assert proc.stdout.startswith("usage: ")


def test_default_profile_is_the_default_section(emulator, workdir, mnt):
    """`upfs MOUNTPOINT` reads [default]."""
    home = Home(workdir, None, "default")
    home.write_config("[default]\nbogus = 1\n")
    proc = run_upfs(home, mnt, "-f")
    assert proc.returncode == 2
    assert proc.stderr == ("upfs: ~/.config/upfs/config:2: unknown option "
                           "'bogus'\n")


def test_upfsctl_reads_the_same_profile(workdir):
    home = Home(workdir, None, "work")
    home.write_config("[work]\nauthority = http://127.0.0.1:1/tenant\n"
                      "dir_ttl = 5\n")
    proc = home.upfsctl("login", "work")
    assert proc.returncode == 1
    assert "'http://127.0.0.1:1/tenant'" in proc.stderr
    # -o beats the profile for upfsctl too.
    proc = home.upfsctl("login", "work", "-o",
                        "authority=http://127.0.0.1:2/other")
    assert "'http://127.0.0.1:2/other'" in proc.stderr
    home.write_config("[work]\nauthority\n")
    proc = home.upfsctl("login", "work")
    assert proc.returncode == 2
    assert proc.stderr == ("upfsctl: ~/.config/upfs/config:2: option "
                           "'authority' needs a value\n")


def test_config_file_is_not_touched(emulator, upfs_mount, workdir):
    env = config_env(workdir, "[test]\ndir_ttl = 30\n")
    before = os.stat(env["UPFS_CONFIG"])
    upfs_mount(emulator, env=env).unmount()
    after = os.stat(env["UPFS_CONFIG"])
    assert before.st_mtime_ns == after.st_mtime_ns
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)
