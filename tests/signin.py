"""Helpers for the sign-in, profile and packaging tests: a home folder with
a profile, upfsctl, session files, and mounts that sign in with a session
instead of a token file.

  Home(workdir, emulator=None, profile="work")   a $HOME with
        ~/.config/upfs/config holding [profile] endpoint= and authority=
        of the emulator; .env, .config_path, .session_path, .write_config()
  home.upfsctl(*args, check=False, timeout=60) -> CompletedProcess
  home.write_session(refresh_token, mode=0o600)
  emulator_auth(emu) / set_auth(emu, **fields) / revoke(emu, ...)
  SessionMounts: a yield-fixture helper (see the session_mounts fixture)
        whose mounts use the profile's session, not a token file."""

import json
import os
import stat

import pytest

import util


def upfsctl_binary():
    path = os.path.join(util.build_dir(), "tools", "upfsctl")
    if not os.access(path, os.X_OK):
        pytest.fail("no upfsctl at %s: build first" % path)
    return path


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Home:
    """A $HOME of its own, with ~/.config/upfs/config."""

    def __init__(self, workdir, emulator=None, profile="work", extra=""):
        self.path = os.path.join(workdir, "home-" + profile)
        os.makedirs(self.path, exist_ok=True)
        self.env = util.base_env(self.path)
        self.profile = profile
        self.emulator = emulator
        self.config_dir = os.path.join(self.path, ".config", "upfs")
        self.config_path = os.path.join(self.config_dir, "config")
        self.session_path = os.path.join(self.config_dir,
                                         profile + ".token")
        if emulator is not None:
            self.write_config("[%s]\nendpoint = %s\nauthority = %s\n%s"
                              % (profile, emulator.endpoint,
                                 emulator.authority, extra))

    def write_config(self, text):
        os.makedirs(self.config_dir, exist_ok=True)
        with open(self.config_path, "w") as fh:
            fh.write(text)

    def upfsctl(self, *args, check=False, timeout=60, umask=None):
        def preexec():
            if umask is not None:
                os.umask(umask)
        return util.run([upfsctl_binary()] + list(args), check=check,
                        timeout=timeout, env=self.env,
                        preexec_fn=preexec)

    def write_session(self, refresh_token, mode=0o600, **extra):
        os.makedirs(self.config_dir, exist_ok=True)
        body = dict(extra, refresh_token=refresh_token, version=1)
        fd = os.open(self.session_path, os.O_WRONLY | os.O_CREAT |
                     os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
        os.chmod(self.session_path, mode)

    def session(self):
        with open(self.session_path) as fh:
            return json.load(fh)


def emulator_auth(emu):
    status, out = emu.call("GET", "/_emulator/auth")
    assert status == 200, out
    return out


def set_auth(emu, **fields):
    status, out = emu.call("POST", "/_emulator/auth", fields)
    assert status == 200, out
    return out


def revoke(emu, access=True, refresh=True):
    status, out = emu.call("POST", "/_emulator/auth/revoke",
                           {"access": access, "refresh": refresh})
    assert status == 200, out
    return out


def mint_refresh(emu, upn="admin@contoso.com"):
    status, out = emu.call("POST", "/_emulator/token",
                           {"upn": upn, "client_id":
                            "14d82eec-204b-4c2f-b7e8-296a70dab67e"})
    assert status == 200, out
    return out["refresh_token"]


class SessionMount(util.Mount):
    """`upfs PROFILE MNT -f` with the home's config and session: no
    token_file, no endpoint on the command line."""

    def __init__(self, home, workdir, options=(), debug=False):
        super().__init__(home.emulator, workdir, profile=home.profile,
                         options=options, token="unused", debug=debug)
        os.unlink(self.token_file)
        self.home = home.path
        self.env = dict(home.env)

    def command(self):
        opts = ["cache_dir=" + self.cache_dir] + self.options
        cmd = [util.upfs_binary(), self.profile, self.path, "-f", "-o",
               ",".join(opts)]
        if self.debug:
            cmd.append("-d")
        return cmd


class SessionMounts:
    """Mounts made in a test; finish() unmounts them all (fixture teardown)
    and fails on unexpected log lines or a bad exit, like upfs_mount."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.mounts = []

    def __call__(self, home, options=(), debug=False):
        m = SessionMount(home, self.workdir, options=options, debug=debug)
        self.mounts.append(m)
        return m.start()

    def finish(self):
        failures = []
        for m in reversed(self.mounts):
            try:
                m.unmount()
            except BaseException as exc:     # pytest.fail raises Failed
                failures.append(str(exc))
            finally:
                m.kill_quietly()
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)
