"""Throttling (issue 10): while the service answers 429 with Retry-After:
2 for 10 seconds, upfs sends at most one request per window — one client
for the whole mount, however many readers and upload workers want to go —
and then everything it was asked for succeeds. Without Retry-After it
backs off (capped, jittered, exponential) and succeeds too."""

import datetime
import errno
import os
import threading
import time

from test_print import job_ids, make_pdf, sha256

import util

WINDOW_S = 10
RETRY_AFTER_S = 2
# Timestamps come from the emulator's clock; a request can arrive a little
# before the Retry-After has fully passed only by scheduling jitter.
SLACK_S = 0.25


def test_one_request_per_retry_after_window(start_emulator, upfs_mount,
                                            workdir):
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    share = emu.share_by_name("Floor3")
    mount = upfs_mount(emu, options=["dir_ttl=1", "status_ttl=1"])
    before = job_ids(emu, share["id"])
    data = make_pdf("throttled", 9 * 1024 * 1024)
    src = os.path.join(workdir, "throttled.pdf")
    with open(src, "wb") as fh:
        fh.write(data)
    emu.set_faults("throttle:%d:%d" % (WINDOW_S, RETRY_AFTER_S))
    results, errors = {}, []

    def run(name, fn):
        try:
            results[name] = fn()
        except OSError as exc:
            errors.append("%s: %s" % (name, exc))

    work = {
        "printers": lambda: sorted(os.listdir(mount.p("printers"))),
        "shares": lambda: sorted(os.listdir(mount.p("shares"))),
        "print": lambda: util.run(["cp", src, mount.p(
            "shares", "Floor3", "queue", "throttled.pdf")],
            timeout=300).returncode,
    }
    threads = [threading.Thread(target=run, args=(n, f))
               for n, f in work.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(util.scaled(300))
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert "Floor3" in results["shares"] and results["printers"]
    assert results["print"] == 0
    job = [j for j in emu.jobs(shareId=share["id"])
           if j["id"] not in before][0]
    assert job["sha256"] == sha256(data)

    history = emu.call("GET", "/_emulator/faults")[1]["history"]
    throttled = [h for h in history if h["throttled"]]
    assert throttled, "the window throttled nothing"
    shown = [(h["t"], h["method"], h["path"]) for h in throttled]
    # Per route: each request at least Retry-After after the previous one.
    routes = {}
    for h in throttled:
        routes.setdefault((h["method"], h["path"]), []).append(h["t"])
    for times in routes.values():
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= RETRY_AFTER_S - SLACK_S for g in gaps), shown
    # And across routes: once the first 429 was back, one request a window
    # (the requests already on their way then are the first burst).
    first_back = min(h["t"] for h in throttled) + 0.05
    later = [h["t"] for h in throttled if h["t"] > first_back]
    gaps = [b - a for a, b in zip(later, later[1:])]
    assert all(g >= RETRY_AFTER_S - SLACK_S for g in gaps), shown
    # And after it, the work went on.
    assert any(not h["throttled"] for h in history)


def test_backoff_without_retry_after(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    emulator.set_faults("429:1,times=3,route=/print/connectors")
    emulator.reset_requests()
    names = os.listdir(mount.p("connectors"))
    assert sorted(names) == ["CONN-BERLIN", "CONN-BLDG1"]
    routes = emulator.requests()["routes"]
    assert routes.get("GET /print/connectors") == 4, routes


def test_a_retry_after_of_zero_still_waits(emulator, upfs_mount):
    """"Retry-After: 0" is not leave to resend at once: retries count
    against the limit that throttled the request (reference §5.3). upfs
    waits a second, as for a date already past."""
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    emulator.set_faults("429:1:0,times=3,route=/print/connectors")
    emulator.reset_requests()
    names = os.listdir(mount.p("connectors"))
    assert sorted(names) == ["CONN-BERLIN", "CONN-BLDG1"]
    assert emulator.requests()["routes"].get("GET /print/connectors") == 4
    history = emulator.call("GET", "/_emulator/faults")[1]["history"]
    times = [h["t"] for h in history if h["fault"] == "429"]
    assert len(times) == 3, history
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g >= 1 - SLACK_S for g in gaps), history


def test_a_wait_past_the_budget_spools_and_lists_at_once(emulator,
                                                         upfs_mount,
                                                         workdir):
    """A Retry-After longer than a request's 120 s budget shuts the gate
    for that long: requests that meet it then go no further and do not
    wait. cp returns 0 at once with its document spooled and waiting, and
    ls answers from the cache, where waiting would hang both for ten
    minutes."""
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    mount.expect_warning(r"throttled|429")
    shares = sorted(os.listdir(mount.p("shares")))
    queue = mount.p("shares", "Floor3", "queue")
    os.listdir(queue)           # printed to before: its listing is cached
    emulator.reset_requests()
    emulator.set_faults("429:1:600,times=1,method=GET,route=/print/printers$")

    def listed_into_the_429():
        try:
            os.listdir(mount.p("printers"))
        except OSError:
            pass                # EAGAIN, or the cache: either will do
        return emulator.requests()["routes"].get("GET /print/printers")
    met_at = time.time()
    util.wait_until(listed_into_the_429, timeout=30, interval=0.5,
                    what="a listing of printers/ to meet the 429")
    src = os.path.join(workdir, "later.pdf")
    with open(src, "wb") as fh:
        fh.write(make_pdf("later"))
    assert util.run(["cp", src, queue + "/"], timeout=60).returncode == 0
    path = os.path.join(queue, "later.pdf")
    assert util.xattr(path, "state") == "waiting"
    # Tried again when the service said, not minutes after that.
    next_at = datetime.datetime.strptime(
        util.xattr(path, "next_attempt"), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    assert met_at + 590 <= next_at <= time.time() + 602, \
        (met_at, next_at, time.time())
    assert util.xattr(path, "reason") == os.strerror(errno.EAGAIN)
    # Turned away by the gate (its own words), never sent.
    assert "more without requests" in mount.status()["last_error"], \
        mount.status()
    assert "POST /print/shares/{id}/jobs" not in \
        emulator.requests()["routes"]
    assert sorted(util.run(["ls", "-1", mount.p("shares")], timeout=60,
                           env=dict(os.environ, LC_ALL="C"))
                  .stdout.splitlines()) == shares



def test_a_retry_after_on_a_504_holds_that_request_only(emulator,
                                                        upfs_mount):
    """Only a 429 or a 503 with Retry-After shuts the mount's gate. A
    gateway's 504 may carry one too: the request that met it is sent again
    only after that wait, while the mount's other requests go on."""
    wait_s = 6
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    mount.expect_warning(r"504|gatewayTimeout")
    emulator.set_faults("504:1:%d,times=1,method=GET,route=/print/connectors$"
                        % wait_s)
    listed = {}

    def connectors():
        listed["names"] = sorted(os.listdir(mount.p("connectors")))

    def history():
        return emulator.call("GET", "/_emulator/faults")[1]["history"]
    t = threading.Thread(target=connectors)
    t.start()
    try:
        util.wait_until(lambda: history(), timeout=30,
                        what="the connectors listing to meet the 504")
        # The gate is open: printers/ lists while that request waits (a
        # shut gate would hold it the whole wait).
        began = time.monotonic()
        assert os.listdir(mount.p("printers"))
        assert time.monotonic() - began < wait_s / 2
        assert [h["fault"] for h in history()] == ["504"], history()
    finally:
        t.join(util.scaled(60))
    assert not t.is_alive()
    assert listed["names"] == ["CONN-BERLIN", "CONN-BLDG1"]
    seen = history()
    assert [h["fault"] for h in seen] == ["504", None], seen
    assert seen[1]["t"] >= wait_s - SLACK_S, seen


def test_a_retry_after_date_is_read_by_the_services_clock(emulator,
                                                          upfs_mount):
    """Retry-After may be an HTTP date. It is the service's clock, as the
    reply's Date header is: with the service's clock ten minutes ahead
    of this machine's, "2 s after now" is not read as ten minutes more."""
    status, out = emulator.call("POST", "/_emulator",
                                {"clockSkewSeconds": 600})
    assert status == 200 and out["clockSkewSeconds"] == 600, out
    mount = upfs_mount(emulator, options=["dir_ttl=0"])
    mount.expect_warning(r"throttled|429")
    os.listdir(mount.p("printers"))
    emulator.add_printer(displayName="After The Wait")
    emulator.set_faults("429:1:@2,times=1,method=GET,route=/print/printers$")

    def listed():
        try:
            return "After The Wait" in os.listdir(mount.p("printers"))
        except OSError:
            return False
    util.wait_until(listed, timeout=20, interval=0.5,
                    what="the listing once the service's 2 s are over")
    assert emulator.requests()["routes"]["GET /print/printers"] >= 2
