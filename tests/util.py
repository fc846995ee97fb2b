"""Helpers for the mounted-filesystem tests: the emulator client, the
mount handle, polling, and an independent implementation of the naming
rules of design.md §2 (the expected names are computed here, from the
emulator's state, never read back from upfs)."""

import errno
import json
import os
import re
import select
import selectors
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TESTS_DIR)
EMULATOR = os.path.join(REPO_DIR, "tools", "up-emulator")
PYTHON = "/usr/bin/python3"

# Sanitizer builds are slower; every deadline below is multiplied by this.
TIMEOUT_SCALE = float(os.environ.get("UPFS_TEST_TIMEOUT_SCALE", "1"))
MOUNT_TIMEOUT = 30 * TIMEOUT_SCALE
EXIT_TIMEOUT = 20 * TIMEOUT_SCALE

# Job states that take a job out of queue/.
FINAL_JOB_STATES = ("completed", "canceled", "aborted")


def build_dir():
    return os.environ.get("UPFS_BUILD_DIR", os.path.join(REPO_DIR, "build"))


def upfs_binary():
    path = os.path.join(build_dir(), "fs", "upfs")
    if not os.access(path, os.X_OK):
        pytest.fail("no upfs binary at %s: build first (tools/build) or set "
                    "UPFS_BUILD_DIR" % path)
    return path


def scaled(seconds):
    return seconds * TIMEOUT_SCALE


def wait_until(pred, timeout=10, interval=0.1, what=None):
    """Polls pred() until it returns a true value, which is returned. Fails
    the test after `timeout` seconds, saying what was awaited and the last
    value or exception seen."""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError, AssertionError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %ss waiting for %s (last: %r)"
                        % (timeout, what or getattr(pred, "__name__", pred),
                           last))
        time.sleep(interval)


def base_env(home):
    """An environment that keeps the user's own config, cache and token
    out of the tests."""
    env = dict(os.environ)
    for key in ("UPFS_ACCESS_TOKEN", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                "XDG_RUNTIME_DIR"):
        env.pop(key, None)
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    return env


def run(cmd, timeout=30, check=True, **kw):
    """Runs a real program; returns the CompletedProcess (text mode)."""
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=scaled(timeout), errors="surrogateescape",
                          **kw)
    if check and proc.returncode != 0:
        pytest.fail("%r exited %d\nstdout: %s\nstderr: %s"
                    % (cmd, proc.returncode, proc.stdout[-2000:],
                       proc.stderr[-2000:]))
    return proc


def sanitizer_of(pid):
    """'asan', 'tsan' or 'valgrind' when the process runs under that
    tool (UPFS_WRAPPER for valgrind), which serves malloc itself and
    whose shadow memory (and ASan's quarantine of freed blocks) counts in
    its RSS, else None."""
    with open("/proc/%d/maps" % pid) as fh:
        maps = fh.read()
    for name in ("asan", "tsan"):
        if "/lib%s.so" % name in maps:
            return name
    if "/vgpreload_" in maps:
        return "valgrind"
    return None


def in_mount_table(path):
    """True while path is in the mount table, even when its daemon died
    (os.path.ismount then says False: stat fails with ENOTCONN)."""
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as fh:
        for line in fh:
            target = line.split()[1]
            target = re.sub(r"\\([0-7]{3})",
                            lambda m: chr(int(m.group(1), 8)), target)
            if target == path:
                return True
    return False


def unmount_path(path):
    """fusermount3 -u, retried while busy, then -z. True if unmounted."""
    for _ in range(20):
        if not in_mount_table(path):
            return True
        rc = subprocess.call(["fusermount3", "-u", path],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        if rc == 0:
            return True
        time.sleep(0.1)
    subprocess.call(["fusermount3", "-u", "-z", path],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return not in_mount_table(path)


# --- the emulator ------------------------------------------------------------

class Emulator:
    """A running tools/up-emulator and a client for its routes."""

    def __init__(self, tenant="demo", page_size=None, faults=None,
                 workdir=None, port=0, extra_args=(), tls=False):
        self.tenant = tenant
        self.stopped = False
        self.base = None
        self.workdir = workdir or tempfile.mkdtemp(prefix="upfs-emu-")
        # tls: HTTPS with a self-signed certificate, kept in ca_file.
        self.ca_file = os.path.join(self.workdir, "emulator-ca.pem") \
            if tls else None
        self.ssl = None
        cmd = [PYTHON, EMULATOR, "--tenant", tenant, "--port", str(port)]
        if tls:
            cmd += ["--tls", "--tls-cert-out", self.ca_file]
        if page_size:
            cmd += ["--page-size", str(page_size)]
        if faults:
            cmd += ["--faults", faults]
        cmd += list(extra_args)
        self.stderr_path = os.path.join(self.workdir, "emulator.stderr")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        self.base = self._read_url(scaled(30))
        if tls:
            self.ssl = ssl.create_default_context(cafile=self.ca_file)
        self.endpoint = self.base + "/v1.0"
        self.authority = self.base + "/organizations"
        # Where upload and download URLs point without --transfer-host:
        # the other name of this host, as the service's are on another
        # host (an emulator started with --transfer-host: that host).
        self.transfer_base = self.base.replace("//127.0.0.1:",
                                               "//localhost:", 1)

    def _read_url(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.stop()
                pytest.fail("emulator printed no URL within %ss: %s"
                            % (timeout, self.stderr_text()))
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                self.stop()
                pytest.fail("emulator exited (%s) before printing its URL: %s"
                            % (self.proc.poll(), self.stderr_text()))
            line += chunk
        sel.close()
        url = line.decode().strip()
        assert re.match(r"^https?://[^/]+$", url), url
        return url

    def stderr_text(self):
        try:
            with open(self.stderr_path, encoding="utf-8",
                      errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    @property
    def running(self):
        return self.proc.poll() is None

    def died(self):
        """The exit code if the emulator ended without stop() (killed by
        something outside the test, or crashed), else None."""
        if self.stopped:
            return None
        return self.proc.poll()

    def stop(self):
        """SIGTERM, wait, SIGKILL on time-out. Idempotent."""
        if self.died() is not None:
            print("up-emulator %s had exited with %s before the test stopped "
                  "it" % (self.base, self.proc.returncode), file=sys.stderr)
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(scaled(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
            self.proc.stdout = None
        if not self._stderr.closed:
            self._stderr.close()

    # --- HTTP ----------------------------------------------------------------

    def call(self, method, path, body=None, headers=None):
        """One request to the emulator; returns (status, parsed JSON or
        None)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=scaled(30),
                                        context=self.ssl) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            status = exc.code
        return status, (json.loads(raw) if raw.strip() else None)

    def _ok(self, method, path, body=None):
        status, out = self.call(method, path, body)
        if status >= 300:
            pytest.fail("emulator %s %s -> %d %s" % (method, path, status,
                                                     out))
        return out

    def mint_token(self, upn="admin@contoso.com", expires_in=3600):
        return self._ok("POST", "/_emulator/token",
                        {"upn": upn, "expires_in": expires_in})[
            "access_token"]

    def requests(self):
        return self._ok("GET", "/_emulator/requests")

    def request_total(self):
        return self.requests()["total"]

    def reset_requests(self):
        self._ok("POST", "/_emulator/requests/reset")

    def state(self, only=None):
        path = "/_emulator/state"
        if only:
            path += "?only=" + ",".join(only)
        return self._ok("GET", path)

    def add_printer(self, **fields):
        return self._ok("POST", "/_emulator/printers", fields)

    def patch_printer(self, pid, **fields):
        return self._ok("PATCH", "/_emulator/printers/" + pid, fields)

    def delete_printer(self, pid):
        return self._ok("DELETE", "/_emulator/printers/" + pid)

    def add_share(self, **fields):
        return self._ok("POST", "/_emulator/shares", fields)

    def add_job(self, **fields):
        return self._ok("POST", "/_emulator/jobs", fields)

    def patch_job(self, jid, **fields):
        return self._ok("PATCH", "/_emulator/jobs/" + jid, fields)

    def delete_job(self, jid):
        return self._ok("DELETE", "/_emulator/jobs/" + jid)

    @property
    def port(self):
        return int(self.base.rsplit(":", 1)[1])

    def jobs(self, **query):
        """Job summaries in id order (GET /_emulator/jobs, filtered by
        shareId=, printerId=, upn=, state=)."""
        path = "/_emulator/jobs"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return self._ok("GET", path)["value"]

    def job(self, jid):
        return self._ok("GET", "/_emulator/jobs/" + jid)

    def job_document(self, jid):
        """{"sha256","size","contentType","documentName","path",...} of a
        job's uploaded bytes."""
        return self._ok("GET", "/_emulator/jobs/%s/document" % jid)

    def uploads(self):
        """The open (unexpired, uncompleted) upload sessions."""
        return self._ok("GET", "/_emulator/uploads")["value"]

    def set_faults(self, spec):
        return self._ok("POST", "/_emulator/faults", {"spec": spec or ""})

    def add_user(self, upn, **fields):
        """POST /_emulator/users; fields may hold printerAdmin=bool."""
        return self._ok("POST", "/_emulator/users",
                        dict(fields, userPrincipalName=upn))

    def patch_user(self, key, **fields):
        """PATCH /_emulator/users/{id|upn}, e.g. printerAdmin=False."""
        return self._ok("PATCH", "/_emulator/users/"
                        + urllib.parse.quote(key), fields)

    def add_group(self, display, members=()):
        """POST /_emulator/groups: names need not be unique."""
        return self._ok("POST", "/_emulator/groups",
                        {"displayName": display, "members": list(members)})

    def writes(self):
        """The successful Graph writes since the last reset_writes(),
        oldest first: [{"method","route","path","status","body",...}]."""
        return self._ok("GET", "/_emulator/writes")["value"]

    def reset_writes(self):
        self._ok("POST", "/_emulator/writes/reset")

    def share_by_name(self, display):
        for share in self.state(only=["shares"])["shares"]:
            if share["displayName"] == display:
                return share
        pytest.fail("the emulator has no share %r" % display)


# --- the mount ---------------------------------------------------------------

LOG_LEVEL_RE = re.compile(r"^upfs: (warning|error)\b|^==\d+==|runtime error:"
                          r"|AddressSanitizer|LeakSanitizer|Traceback",
                          re.MULTILINE)


class Mount:
    """A running `upfs -f` and its mountpoint. Build with start(); the
    fixture calls finish() in teardown whatever happened."""

    def __init__(self, emulator, workdir, profile="test", cache_dir=None,
                 options=(), token=None, env=None, debug=False):
        self.emulator = emulator
        self.workdir = workdir
        self.path = tempfile.mkdtemp(prefix="mnt-", dir=workdir)
        self.cache_dir = cache_dir or tempfile.mkdtemp(prefix="cache-",
                                                       dir=workdir)
        self.profile = profile
        self.options = list(options)
        self.home = tempfile.mkdtemp(prefix="home-", dir=workdir)
        self.env = base_env(self.home)
        self.env.update(env or {})
        self.token_file = os.path.join(workdir, "token-%s"
                                       % os.path.basename(self.path))
        if token is None:
            token = emulator.mint_token()
        with open(self.token_file, "w") as fh:
            fh.write(token + "\n")
        os.chmod(self.token_file, 0o600)
        self.log_path = os.path.join(workdir, "upfs-%s.log"
                                     % os.path.basename(self.path))
        self.debug = debug
        self.proc = None
        self.returncode = None
        self._expected = []
        self._finished = False

    def command(self):
        opts = ["endpoint=" + self.emulator.endpoint,
                "token_file=" + self.token_file,
                "cache_dir=" + self.cache_dir] + self.options
        # UPFS_WRAPPER runs the daemon under another program, e.g.
        # "valgrind -q --error-exitcode=1" (tools/check --long).
        cmd = shlex.split(os.environ.get("UPFS_WRAPPER", ""))
        cmd.append(upfs_binary())
        if self.profile:
            cmd.append(self.profile)
        cmd += [self.path, "-f", "-o", ",".join(opts)]
        if self.debug:
            cmd.append("-d")
        return cmd

    def is_mounted(self):
        return os.path.ismount(self.path)

    def start(self):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         env=self.env)
        finally:
            log.close()
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not self.is_mounted():
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self._finished = True
                pytest.fail("upfs exited with %d before mounting:\n%s"
                            % (self.returncode, self.log()))
            if time.monotonic() > deadline:
                pytest.fail("upfs did not mount within %ss:\n%s"
                            % (MOUNT_TIMEOUT, self.log()))
            time.sleep(0.05)
        return self

    # --- for tests -----------------------------------------------------------

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8",
                      errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def expect_warning(self, pattern):
        """Declares that a warning/error line matching the regex `pattern`
        is expected; it then does not fail the test."""
        self._expected.append(re.compile(pattern))

    expect_error = expect_warning

    def status(self):
        """.upfs/status as a dict."""
        with open(self.p(".upfs", "status"), encoding="utf-8") as fh:
            text = fh.read()
        out = {}
        for line in text.splitlines():
            key, sep, value = line.partition(": ")
            assert sep, "bad .upfs/status line %r" % line
            out[key] = value
        return out

    def unexpected_log_lines(self):
        bad = []
        for line in self.log().splitlines():
            if LOG_LEVEL_RE.search(line) and not any(
                    rx.search(line) for rx in self._expected):
                bad.append(line)
        return bad

    def unmount(self):
        """Unmounts, waits for the daemon, requires exit code 0 and a log
        without unexpected warnings. Called by the fixture if the test did
        not."""
        if self._finished or self.proc is None:
            return
        self._finished = True
        problems = []
        if self.proc.poll() is None or in_mount_table(self.path):
            if not unmount_path(self.path):
                problems.append("could not unmount %s" % self.path)
        try:
            self.returncode = self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            unmount_path(self.path)
            problems.append("upfs did not exit within %ss of the unmount"
                            % EXIT_TIMEOUT)
        else:
            if self.returncode != 0:
                problems.append("upfs exited with %d" % self.returncode)
        bad = self.unexpected_log_lines()
        if bad:
            problems.append("unexpected daemon log lines:\n  "
                            + "\n  ".join(bad))
        if problems and self.emulator.died() is not None:
            problems.append("NOTE: the emulator died during the test (exit "
                            "%s), not stopped by it" % self.emulator.died())
        if problems:
            pytest.fail("; ".join(problems) + "\n--- upfs log ---\n"
                        + self.log()[-6000:])

    def wait_exit(self):
        """For a test that ends the daemon itself (a signal): waits for it,
        checks the log, and returns the exit code; teardown then only makes
        sure the mountpoint is gone."""
        self._finished = True
        try:
            self.returncode = self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("upfs did not exit within %ss" % EXIT_TIMEOUT)
        bad = self.unexpected_log_lines()
        if bad:
            pytest.fail("unexpected daemon log lines:\n  " + "\n  ".join(bad))
        return self.returncode

    def kill_quietly(self):
        """Last-resort cleanup that never raises."""
        if self.proc and self.proc.poll() is None:
            unmount_path(self.path)
            try:
                self.proc.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        unmount_path(self.path)


# --- file helpers ------------------------------------------------------------

def read_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def read_text(path):
    return read_bytes(path).decode("utf-8")


def read_json(path):
    """Reads a JSON file of the tree, checking the rendering rules: valid
    JSON, a final newline, st_size equal to the bytes read, no @odata keys."""
    data = read_bytes(path)
    assert os.stat(path).st_size == len(data), path
    assert data.endswith(b"\n"), "%s does not end with a newline" % path
    obj = json.loads(data)
    odata = find_odata_keys(obj)
    assert not odata, "%s has @odata keys: %s" % (path, odata)
    return obj


def find_odata_keys(obj, where=""):
    found = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if "@odata" in key:
                found.append(where + "/" + key)
            found += find_odata_keys(value, where + "/" + key)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found += find_odata_keys(value, "%s[%d]" % (where, i))
    return found


def xattr(path, name, follow=True):
    return os.getxattr(path, "user.upfs." + name,
                       follow_symlinks=follow).decode("utf-8")


def status_line(status):
    """The one-line rendering of a printer or job status (design §2)."""
    details = status.get("details") or []
    if details:
        return "%s: %s\n" % (status["state"], ", ".join(details))
    return status["state"] + "\n"


def expect_errno(fn, *errnos):
    """Calls fn() and returns the OSError's errno, failing if it succeeds or
    fails with another errno."""
    try:
        fn()
    except OSError as exc:
        assert exc.errno in errnos, "%s: errno %s (%s), wanted one of %s" % (
            fn, exc.errno, os.strerror(exc.errno),
            [errno.errorcode[e] for e in errnos])
        return exc.errno
    pytest.fail("%s succeeded; wanted %s" % (
        fn, [errno.errorcode[e] for e in errnos]))


# --- naming rules (design.md §2), implemented independently ------------------

NAME_MAX = 255


def encode_name(display, oid):
    """One display name made safe, before the same-name rule."""
    if display is None or display == "":
        return oid
    out = []
    for ch in display:
        code = ord(ch)
        if ch == "/":
            out.append("\uff0f")
        elif code < 0x20:
            out.append(chr(0x2400 + code))
        elif code == 0x7f:
            out.append("\u2421")
        else:
            out.append(ch)
    name = "".join(out)
    if name == ".":
        name = "\uff0e"
    elif name == "..":
        name = "\uff0e\uff0e"
    return name


def with_suffix(name, oid):
    """name + ' ~' + 8 id chars, cutting name (at a character boundary) so
    the whole fits in NAME_MAX bytes."""
    suffix = " ~" + oid[:8]
    room = NAME_MAX - len(suffix.encode())
    raw = name.encode("utf-8")
    if len(raw) > room:
        raw = raw[:room]
        name = raw.decode("utf-8", errors="ignore")
    return name + suffix


def expected_names(objects, name_key="displayName"):
    """{id: expected folder name} for objects sharing one folder."""
    base = {}
    for obj in objects:
        name = encode_name(obj.get(name_key), obj["id"])
        if len(name.encode("utf-8")) > NAME_MAX:
            name = with_suffix(name, obj["id"])
        base[obj["id"]] = name
    counts = {}
    for name in base.values():
        counts[name] = counts.get(name, 0) + 1
    return {oid: (with_suffix(name, oid) if counts[name] > 1 else name)
            for oid, name in base.items()}


def is_long_name_of(actual, display, oid):
    """The rule for a cut name, checked loosely: a UTF-8-valid prefix of the
    encoded name, the id suffix, at most NAME_MAX bytes."""
    suffix = " ~" + oid[:8]
    full = encode_name(display, oid)
    return (actual.endswith(suffix)
            and len(actual.encode("utf-8")) <= NAME_MAX
            and full.startswith(actual[:-len(suffix)])
            and len(actual.encode("utf-8")) > NAME_MAX - 16)


def expected_queue(jobs):
    """For a share's jobs: {expected queue/ name: set of job ids that may
    carry it}. Live jobs are listed by document name; the second and later
    copies of a name are 'doc ~2.pdf', 'doc ~3.pdf'... The contract does not
    say which copy is which, so each name of a group may be any of its jobs."""
    groups = {}
    for job in jobs:
        if not live(job):
            continue
        doc = job["documents"][0]
        name = encode_name(doc["displayName"], doc["id"])
        groups.setdefault(name, set()).add(job["id"])
    out = {}
    for name, ids in groups.items():
        for n in range(1, len(ids) + 1):
            out[name if n == 1 else dup_name(name, n)] = ids
    return out


def dup_name(name, n):
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return "%s ~%d" % (name, n)
    return "%s ~%d.%s" % (stem, n, ext)


def live(job):
    return job["status"]["state"] not in FINAL_JOB_STATES


def strip_links(obj, *keys):
    """The emulator's state view adds link keys (shareIds, printerId...)
    that are not Graph properties."""
    return {k: v for k, v in obj.items() if k not in keys}


def assert_json_equal(actual, expected, what):
    if actual != expected:
        diff = []
        for key in sorted(set(actual) | set(expected)):
            if actual.get(key, "<missing>") != expected.get(key, "<missing>"):
                diff.append("  %s: upfs %r, emulator %r" % (
                    key, actual.get(key, "<missing>"),
                    expected.get(key, "<missing>")))
        pytest.fail("%s differs from the emulator:\n%s" % (what,
                                                           "\n".join(diff)))


# Faults that spoil one request's reply or refuse it for now, by the
# emulator's spec (tools/emulator/faults.py).
ONE_REQUEST_FAULTS = ["429:1", "500:1", "503:1", "reset:1", "drop:1",
                      "truncated:1", "malformed:1", "done500:1"]
# Parametrizes a test's `fault` over them, named by kind.
with_one_request_faults = pytest.mark.parametrize(
    "fault", ONE_REQUEST_FAULTS, ids=[f.split(":")[0]
                                      for f in ONE_REQUEST_FAULTS])
# What a change that failed may say: the service failed, was unreachable
# or answered nonsense.
CLEAN_FAILURES = {errno.EIO, errno.EAGAIN, errno.ECONNRESET,
                  errno.ETIMEDOUT, errno.EPROTO}


def call_errno(fn):
    """fn()'s OSError errno, or 0."""
    try:
        fn()
    except OSError as exc:
        return exc.errno
    return 0


def check_change_under_fault(emu, mount, spec, what, call, held, shown):
    """A change of one request meets the fault spec (twice, if sent
    twice): call() (its errno) returns 0 exactly when held() says the
    service holds the change, else a clean errno with nothing changed;
    then shown(done) becomes true: the mount shows what the service
    holds."""
    assert not held(), "%s: the service holds the change already" % what
    last_before = mount.status()["last_error"]
    emu.set_faults(spec)
    rc = call()
    emu.set_faults("")
    done = held()
    if rc == 0:
        assert done, "%s returned 0 but the service lacks the change" % what
    else:
        assert rc in CLEAN_FAILURES, "%s failed with %s" % (
            what, errno.errorcode.get(rc, rc))
        assert not done, "%s failed (%s) but the service holds the " \
            "change" % (what, errno.errorcode.get(rc, rc))
        assert mount.status()["last_error"] not in ("", "none",
                                                    last_before)
    wait_until(lambda: shown(done), timeout=10,
               what="the mount to show what the service holds")
    return rc


def check_refusal(emu, mount, what, change, want=errno.EACCES,
                  fault="403:1"):
    """A change of one request, change = (its route's fault spec, the
    call, whether the service holds it, what the mount shows), that the
    service refuses with fault (a 403 by default): call() fails with
    errno `want`, the service holds nothing of it, .upfs/status says
    why, and shown(False) becomes true."""
    route, call, held, shown = change
    assert not held(), "%s: the service holds the change already" % what
    emu.set_faults("%s,%s" % (fault, route))
    rc = call()
    emu.set_faults("")
    assert rc == want, "%s: %s, not %s" % (
        what, errno.errorcode.get(rc, rc), errno.errorcode[want])
    assert not held(), "%s was refused but the service holds it" % what
    assert mount.status()["last_error"] not in ("", "none")
    wait_until(lambda: shown(False), timeout=10,
               what="the mount to show what the service holds")


def close_errno(path, text, mode="w"):
    """Python open(mode)/write/close: the errno of the call that failed,
    which must be close() (a commit happens there), or 0. Bytes are
    written as they are ("wb")."""
    fh = open(path, mode, encoding=None if "b" in mode else "utf-8")
    fh.write(text)
    try:
        fh.close()
    except OSError as exc:
        return exc.errno
    return 0


def edit_in_own_process(script, args, steps):
    """Runs a Python editor `script` (with `args`) in a process of its own,
    as an editor is: it reads its file, prints "read", then for each line
    on its stdin changes its text and saves it, printing the errno (0 on
    success). steps: [(meanwhile, line)]: meanwhile() runs, then the line
    goes to the editor. Returns the editor's answers; the process never
    outlives the call."""
    proc = subprocess.Popen([sys.executable, "-c", script] + list(args),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    answers = []

    def answer():
        ready, _, _ = select.select([proc.stdout], [], [], scaled(30))
        assert ready, "the editor said nothing in 30 s"
        return proc.stdout.readline().strip()

    try:
        line = answer()
        assert line == "read", "the editor did not read: %r" % line
        for meanwhile, command in steps:
            meanwhile()
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            answers.append(answer())
        proc.stdin.close()
        proc.wait(scaled(30))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return answers
