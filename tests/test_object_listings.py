"""Printers and shares read from one listing (design.md §5: listing N
objects costs about N/page-size requests, never one request per object).

A printer's files (printer.json, capabilities.json, defaults.json) and a
share's (share.json) need properties plain lists leave out (reference
§3.1, §3.4). A list whose $select names them may carry them; when a walk
needs many objects at once, upfs fetches that listing instead of a GET per
object, and falls back to the GETs when the service leaves them out."""

import json
import os
import threading
import time

import util

LONG_TTL = ["dir_ttl=600", "status_ttl=600"]
# An object's GETs before its batch listing is fetched (RES_BATCH_MIN - 1).
SINGLES = 3
PRINTER_FILES = ("printer.json", "capabilities.json", "defaults.json")


def read_objects(mount):
    """{path: bytes} of every printer's and share's object files."""
    out = {}
    for name in sorted(os.listdir(mount.p("printers"))):
        for f in PRINTER_FILES:
            out["printers/%s/%s" % (name, f)] = util.read_bytes(
                mount.p("printers", name, f))
    for name in sorted(os.listdir(mount.p("shares"))):
        out["shares/%s/share.json" % name] = util.read_bytes(
            mount.p("shares", name, "share.json"))
    return out


def object_gets(emulator):
    routes = emulator.requests()["routes"]
    return (routes.get("GET /print/printers/{id}", 0),
            routes.get("GET /print/shares/{id}", 0))


def batch_fetches(emulator, collection):
    """How often each page of the listing that selects defaults and
    capabilities of collection was fetched: {url: n}."""
    urls = emulator.call("GET", "/_emulator/requests?urls=1")[1]["urls"]
    return {u: n["count"] for u, n in urls.items()
            if u.split("?")[0].endswith("/print/" + collection) and
            "capabilities" in u}


def test_a_walk_reads_printers_and_shares_from_their_listings(
        emulator, upfs_mount):
    state = emulator.state(only=["printers", "shares"])
    assert len(state["printers"]) > SINGLES + 2
    assert len(state["shares"]) > SINGLES + 2
    first = upfs_mount(emulator, options=LONG_TTL)
    os.listdir(first.p("printers"))
    os.listdir(first.p("shares"))
    emulator.reset_requests()
    files = read_objects(first)
    printers, shares = object_gets(emulator)
    assert printers <= SINGLES and shares <= SINGLES, (printers, shares)
    for collection in ("printers", "shares"):
        fetched = batch_fetches(emulator, collection)
        assert list(fetched.values()) == [1], fetched
    first.unmount()

    # The same files, byte for byte, from a GET per object: a service
    # whose lists leave the two members out, whatever $select says.
    status, _ = emulator.call("POST", "/_emulator",
                              {"listsOmitDetails": True})
    assert status == 200
    emulator.reset_requests()
    second = upfs_mount(emulator, options=LONG_TTL)
    assert read_objects(second) == files
    printers, shares = object_gets(emulator)
    assert printers == len(state["printers"]), printers
    assert shares == len(state["shares"]), shares
    # Asked once, not once per object; and said why.
    for collection in ("printers", "shares"):
        fetched = batch_fetches(emulator, collection)
        assert list(fetched.values()) == [1], fetched
    assert second.log().count("what their objects' own GETs give") == 2, \
        second.log()


def moved_printers(mount, names):
    """How many printer.json files show a building "Moved …", read whole
    and as long as stat says."""
    moved = 0
    for name in names.values():
        path = mount.p("printers", name, "printer.json")
        data = util.read_bytes(path)
        if os.stat(path).st_size != len(data):
            continue
        try:
            location = json.loads(data).get("location") or {}
        except ValueError:
            continue            # cut short by a size the kernel kept
        moved += (location.get("building") or "").startswith("Moved ")
    return moved


def test_objects_refreshed_from_their_listing_change_at_once(
        emulator, upfs_mount):
    """After the TTL, stale objects are served while a refresh runs in the
    background, many by one listing: well within the TTL the kernel keeps
    attributes for, every file shows the service's change, its size
    too."""
    ttl = int(util.scaled(4))
    mount = upfs_mount(emulator, options=["dir_ttl=%d" % ttl,
                                          "status_ttl=%d" % ttl])
    names = {}
    for name in os.listdir(mount.p("printers")):
        names[util.xattr(mount.p("printers", name), "id")] = name
    read_objects(mount)
    for n, pid in enumerate(sorted(names)):
        emulator.patch_printer(pid, location={"building": "Moved %d" % n})
    time.sleep(ttl + 0.3)
    emulator.reset_requests()
    # Stale: served as it was (the kernel keeps that for ttl) while
    # refreshed behind it.
    moved_printers(mount, names)
    deadline = time.monotonic() + ttl / 2
    while moved_printers(mount, names) < len(names):
        assert time.monotonic() < deadline, "%d of %d moved" % (
            moved_printers(mount, names), len(names))
        time.sleep(0.1)
    # Held back a moment for the walk to queue the rest: no GET at all.
    printers, _ = object_gets(emulator)
    assert printers == 0, printers


def test_an_own_write_during_a_listing_wins(emulator, upfs_mount):
    """A printer renamed through the mount while the listing that stands
    for its object is on its way (slowed at the service), and read while
    it still is: the listing's older element becomes neither the object
    nor its cached copy."""
    mount = upfs_mount(emulator, options=LONG_TTL)
    names = sorted(os.listdir(mount.p("printers")))
    target = names[-1]
    slow = util.scaled(3)
    emulator.set_faults("slow:1:%g,route=/print/printers$,method=GET"
                        % slow)

    def walk():
        for name in names[:SINGLES + 1]:    # the last one asks the listing
            util.read_bytes(mount.p("printers", name, "printer.json"))

    walker = threading.Thread(target=walk)
    walker.start()
    try:
        # Counted as it arrives, answered `slow` seconds later.
        util.wait_until(lambda: batch_fetches(emulator, "printers"),
                        what="the listing asked")
        os.rename(mount.p("printers", target),
                  mount.p("printers", "Renamed"))
        data = json.loads(util.read_bytes(
            mount.p("printers", "Renamed", "printer.json")))
        assert data["displayName"] == "Renamed"
    finally:
        emulator.set_faults("")
        walker.join()
    data = json.loads(util.read_bytes(
        mount.p("printers", "Renamed", "printer.json")))
    assert data["displayName"] == "Renamed"
    cache = mount.cache_dir
    mount.unmount()
    again = upfs_mount(emulator, cache_dir=cache, options=LONG_TTL)
    data = json.loads(util.read_bytes(
        again.p("printers", "Renamed", "printer.json")))
    assert data["displayName"] == "Renamed"


def test_objects_a_listing_cannot_fill_are_not_asked_again(
        emulator, upfs_mount):
    """Elements that lack the members (some printers only) leave their
    objects to a GET each; the listing is not fetched again for them,
    however many miss after it."""
    state = emulator.state(only=["printers"])
    assert len(state["printers"]) >= 2 * (SINGLES + 1)
    lacking = sorted(p["id"] for p in state["printers"])[:SINGLES + 1]
    status, _ = emulator.call("POST", "/_emulator",
                              {"listsOmitDetailsOf": lacking})
    assert status == 200
    mount = upfs_mount(emulator, options=LONG_TTL)
    names = {}
    for name in os.listdir(mount.p("printers")):
        names[util.xattr(mount.p("printers", name), "id")] = name
    emulator.reset_requests()
    # The others first: the listing is asked for the last of them.
    for pid in sorted(names, key=lambda p: p in lacking):
        for f in PRINTER_FILES:
            util.read_bytes(mount.p("printers", names[pid], f))
    fetched = batch_fetches(emulator, "printers")
    assert list(fetched.values()) == [1], fetched
    printers, _ = object_gets(emulator)
    assert printers <= SINGLES + len(lacking), printers
    # And what was filled came from the listing.
    assert printers < len(names), printers


def test_a_refused_listing_leaves_each_object_its_get(emulator, upfs_mount):
    """A service that refuses the listing in this form (400): a GET per
    object, the listing not asked again for a while, a line in the log
    and no warning (the GETs meet no error)."""
    mount = upfs_mount(emulator, options=LONG_TTL)
    names = os.listdir(mount.p("printers"))
    emulator.set_faults("400:1,route=/print/printers$,method=GET,times=1")
    emulator.reset_requests()
    for name in names:
        for f in PRINTER_FILES:
            json.loads(util.read_bytes(mount.p("printers", name, f)))
    printers, _ = object_gets(emulator)
    assert printers == len(names), printers
    assert list(batch_fetches(emulator, "printers").values()) == [1]
    assert "refused" in mount.log(), mount.log()
    assert mount.unexpected_log_lines() == []
