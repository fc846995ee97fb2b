"""Fixtures for the mounted-filesystem tests (after libfuse's test/util.py,
written as yield fixtures so teardown always runs).

  start_emulator(tenant="demo", page_size=None, faults=None, port=0,
                 extra_args=(), tls=False) -> Emulator   (extra_args: more
                                  up-emulator options, e.g. --job-seconds;
                                  tls: HTTPS, its CA in emu.ca_file)
  emulator                      the demo tenant, started for the test
  upfs_mount(emu, profile="test", cache_dir=None, options=(), token=None,
             env=None) -> Mount   mounted and polled until it is up
  mount                         upfs on the demo emulator, default options

Teardown of every mount unmounts with fusermount3 (-z as a fallback),
waits for the daemon, fails the test if it exited non-zero or logged a
warning/error line the test did not declare with mount.expect_warning().
A watchdog SIGKILLs the daemons of a test that hangs, so a stuck FUSE call
fails the test instead of the whole run."""

import os
import shutil
import signal
import tempfile
import threading

import pytest

import util

HANG_TIMEOUT = float(os.environ.get("UPFS_TEST_HANG_TIMEOUT", "150")) \
    * util.TIMEOUT_SCALE


def pytest_configure(config):
    if not os.path.exists("/dev/fuse"):
        raise pytest.UsageError("/dev/fuse is missing")
    if not shutil.which("fusermount3"):
        raise pytest.UsageError("fusermount3 is not installed")


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="upfs-test-")
    yield path
    # Never rm -r through a mountpoint that is still there.
    with open("/proc/self/mounts") as fh:
        busy = any(line.split()[1].startswith(path + "/") for line in fh)
    if not busy:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_emulator(workdir):
    started = []

    def start(tenant="demo", page_size=None, faults=None, port=0,
              extra_args=(), tls=False):
        emu = util.Emulator(tenant, page_size=page_size, faults=faults,
                            workdir=tempfile.mkdtemp(prefix="emu-",
                                                     dir=workdir),
                            port=port, extra_args=extra_args, tls=tls)
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        emu.stop()
        text = emu.stderr_text()
        if text.strip():
            print("--- emulator stderr (%s) ---\n%s"
                  % (emu.base, text[-4000:]))


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("demo")


@pytest.fixture
def upfs_mount(start_emulator, workdir, request):
    mounts = []
    hung = threading.Event()

    def watchdog():
        hung.set()
        for m in mounts:
            if m.proc and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGKILL)

    timer = threading.Timer(HANG_TIMEOUT, watchdog)
    timer.daemon = True
    timer.start()

    def mount(emu, **kw):
        m = util.Mount(emu, workdir, **kw)
        mounts.append(m)
        return m.start()

    yield mount
    timer.cancel()
    failures = []
    for m in reversed(mounts):
        try:
            m.unmount()
        except BaseException as exc:    # pytest.fail raises Failed
            failures.append(str(exc))
        finally:
            m.kill_quietly()
    if hung.is_set():
        failures.insert(0, "the test hung for %ss; the watchdog killed upfs"
                        % HANG_TIMEOUT)
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture
def mount(emulator, upfs_mount):
    return upfs_mount(emulator)
