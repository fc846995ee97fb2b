"""The LMDB cache (design.md §5): listings cost about N/page-size requests,
repeated listings within the TTL cost none, a remount starts warm, and a
stopped service leaves the cache readable with .upfs/status offline."""

import math
import os

import pytest

import util
from test_print_failures import CACHE_HEADER_LEN, lmdb_put_value, lmdb_values
from util import read_bytes

LONG_TTL = ["dir_ttl=600", "status_ttl=600"]
UNREACHABLE = r"^upfs: warning: service unreachable, serving the cache: "


@pytest.fixture
def large(start_emulator):
    return start_emulator("large")


def counted(emulator, fn):
    """Runs fn() and returns (its result, the Graph requests it cost)."""
    emulator.reset_requests()
    result = fn()
    return result, emulator.requests()


def test_large_listing_is_paged(large, upfs_mount):
    mount = upfs_mount(large, options=LONG_TTL)
    pages = math.ceil(1000 / 100)

    out, reqs = counted(large, lambda: util.run(
        ["ls", "-l", mount.p("printers")], timeout=120))
    lines = out.stdout.splitlines()
    assert len(lines) == 1 + 1000, lines[:3]        # "total" + 1,000
    assert reqs["total"] <= pages + 1, reqs

    out, reqs = counted(large, lambda: util.run(
        ["ls", "-l", mount.p("shares")], timeout=120))
    assert len(out.stdout.splitlines()) == 1 + 1000
    assert reqs["total"] <= pages + 1, reqs

    # Again within the TTL: nothing.
    _, reqs = counted(large, lambda: util.run(
        ["ls", "-l", mount.p("printers"), mount.p("shares")], timeout=120))
    assert reqs["total"] == 0, reqs


def test_large_ls_lR_twice(large, upfs_mount):
    mount = upfs_mount(large, options=LONG_TTL)
    few = ["Printer 0001", "Printer 0500", "Printer 1000"]
    paths = [mount.p("printers", n) for n in few]

    first, reqs1 = counted(large, lambda: util.run(["ls", "-lR"] + paths,
                                                   timeout=120))
    assert first.stderr == ""
    assert reqs1["total"] > 0, "nothing fetched: is the fixture wrong?"
    # About one request per folder, never one per job.
    jobs = sum(len(os.listdir(os.path.join(p, "jobs"))) for p in paths)
    assert jobs > 20
    assert reqs1["total"] < jobs, reqs1

    second, reqs2 = counted(large, lambda: util.run(["ls", "-lR"] + paths,
                                                    timeout=120))
    assert second.stdout == first.stdout
    assert reqs2["total"] == 0, reqs2

    st = mount.status()
    assert st["state"] == "online"
    assert int(st["graph_requests"]) >= reqs1["total"]


def test_large_remount_is_warm(large, upfs_mount):
    first = upfs_mount(large, options=LONG_TTL)
    folders = [first.p("printers"), first.p("shares"),
               first.p("printers", "Printer 0042")]
    listing = util.run(["ls", "-l"] + folders, timeout=120).stdout
    cache = first.cache_dir
    first.unmount()

    large.reset_requests()
    again = upfs_mount(large, cache_dir=cache, options=LONG_TTL)
    hits = int(again.status()["cache_hits"])
    folders = [again.p("printers"), again.p("shares"),
               again.p("printers", "Printer 0042")]
    out = util.run(["ls", "-l"] + folders, timeout=120).stdout
    assert out.replace(again.path, first.path) == listing
    reqs = large.requests()
    assert reqs["total"] == 0, reqs
    st = again.status()
    assert int(st["cache_hits"]) > hits
    assert int(st["graph_requests"]) == 0, st


def test_a_damaged_cached_listing_is_fetched_again(emulator, upfs_mount):
    """A cached value that is no longer JSON (a disk's bit rot, another
    program) is a miss: the listing comes from the service again, whole,
    and is cached anew."""
    first = upfs_mount(emulator, options=LONG_TTL)
    listing = util.run(["ls", "-l", first.p("printers")]).stdout
    cache = first.cache_dir
    first.unmount()
    values = lmdb_values(cache, "resources")
    assert "/print/printers" in values, sorted(values)
    # The value's fetch-time header kept, its JSON cut in half.
    raw = values["/print/printers"]
    lmdb_put_value(cache, "resources", "/print/printers",
                   raw[:CACHE_HEADER_LEN + (len(raw) - CACHE_HEADER_LEN) // 2])

    emulator.reset_requests()
    again = upfs_mount(emulator, cache_dir=cache, options=LONG_TTL)
    out = util.run(["ls", "-l", again.p("printers")]).stdout
    assert out == listing
    assert emulator.requests()["routes"].get("GET /print/printers") == 1
    again.unmount()
    assert lmdb_values(cache, "resources")["/print/printers"][
        CACHE_HEADER_LEN:] == raw[CACHE_HEADER_LEN:]


def warm_up(mount):
    """Walks and reads the whole tree, so all of it is cached; returns
    {relative path: bytes}. Documents' bytes (queue/, documents/) are
    never cached: they are read from the service."""
    out = {}
    for dirpath, _, filenames in os.walk(mount.path):
        if os.path.basename(dirpath) in ("queue", "documents"):
            continue
        for f in filenames:
            path = os.path.join(dirpath, f)
            if not os.path.islink(path):
                out[os.path.relpath(path, mount.path)] = read_bytes(path)
    out.pop(".upfs/status")
    return out


def test_stopped_service_serves_the_cache(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=["dir_ttl=1", "status_ttl=1"])
    mount.expect_warning(UNREACHABLE)
    seen = warm_up(mount)
    assert len(seen) > 30
    assert mount.status()["state"] == "online"
    emulator.stop()

    def offline_and_still_readable():
        for rel, data in seen.items():
            path = mount.p(rel)
            assert read_bytes(path) == data, rel
            assert os.stat(path).st_size == len(data), rel
        return mount.status()["state"] == "offline"

    util.wait_until(offline_and_still_readable, timeout=15,
                    what=".upfs/status to say offline")
    assert sorted(os.listdir(mount.p("printers"))) == sorted(
        {rel.split("/")[1] for rel in seen if rel.startswith("printers/")})
    out = util.run(["find", mount.path])        # every listing is cached
    assert out.stderr == ""
    st = mount.status()
    assert st["last_error"] not in ("", "none"), st
    # Documents' bytes are never cached (the service has them): not here.
    out = util.run(["grep", "-r", "--exclude-dir=documents", "tonerLow",
                    mount.p("printers")])
    assert "stopped: mediaJam, tonerLow" in out.stdout
    warnings = [line for line in mount.log().splitlines()
                if line.startswith("upfs: warning: service unreachable")]
    assert len(warnings) == 1, warnings


def test_mount_while_service_down(emulator, upfs_mount):
    first = upfs_mount(emulator)
    seen = warm_up(first)
    cache = first.cache_dir
    first.unmount()
    token = emulator.mint_token()
    emulator.stop()

    again = upfs_mount(emulator, cache_dir=cache, token=token,
                       options=["dir_ttl=1", "status_ttl=1"])
    again.expect_warning(UNREACHABLE)
    def offline_and_still_readable():
        for rel, data in seen.items():      # stale after 1s: refreshes fail
            assert read_bytes(again.p(rel)) == data, rel
        return again.status()["state"] == "offline"

    util.wait_until(offline_and_still_readable, timeout=15,
                    what="state: offline")
    assert util.run(["find", again.path]).stderr == ""
    warnings = [line for line in again.log().splitlines()
                if line.startswith("upfs: warning: service unreachable")]
    assert len(warnings) == 1, again.log()


def test_offline_option_makes_no_requests(emulator, upfs_mount):
    first = upfs_mount(emulator)
    seen = warm_up(first)
    cache = first.cache_dir
    first.unmount()

    emulator.reset_requests()
    off = upfs_mount(emulator, cache_dir=cache,
                     options=["offline", "dir_ttl=1", "status_ttl=1"])
    for rel, data in seen.items():
        assert read_bytes(off.p(rel)) == data, rel
    assert emulator.request_total() == 0, emulator.requests()
    # The contract's value is exactly "offline" (a reason may go elsewhere).
    assert off.status()["state"] == "offline"


def test_status_counters_move(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=LONG_TTL)
    st0 = mount.status()
    for key in ("cache_hits", "cache_misses", "graph_requests",
                "graph_retries"):
        assert st0[key].isdigit(), (key, st0)

    # Jobs folders: CUPS device discovery (test_cups.py), which visits
    # every upfs mount of the machine, other tests' too, lists shares and
    # printers but never these, so their misses are this test's.
    emulator.reset_requests()
    names = os.listdir(mount.p("printers"))
    for n in names:
        os.listdir(mount.p("printers", n, "jobs"))
    st1 = mount.status()
    assert int(st1["cache_misses"]) > int(st0["cache_misses"])
    assert int(st1["graph_requests"]) - int(st0["graph_requests"]) == \
        emulator.request_total()

    # A second mount on the same cache answers from it: hits, no requests.
    cache = mount.cache_dir
    mount.unmount()
    again = upfs_mount(emulator, cache_dir=cache, options=LONG_TTL)
    emulator.reset_requests()
    h0 = int(again.status()["cache_hits"])
    for n in os.listdir(again.p("printers")):
        os.listdir(again.p("printers", n, "jobs"))
    st2 = again.status()
    assert int(st2["cache_hits"]) > h0
    routes = emulator.requests()["routes"]
    for route in ("GET /print/printers", "GET /print/printers/{id}/jobs"):
        assert routes.get(route, 0) == 0, routes
    assert int(st2["graph_retries"]) == 0
