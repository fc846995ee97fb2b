"""Names made from display names (design.md §2): slashes, control
characters, dot names, long names, same names, and stability across
remounts. Expected names come from util's own implementation of the rules."""

import os

import util
from util import encode_name, expected_names, xattr

FAST = ["dir_ttl=1", "status_ttl=1"]


def printer_names(mount):
    """{id: name} read from the mount."""
    folder = mount.p("printers")
    return {xattr(os.path.join(folder, n), "id"): n
            for n in os.listdir(folder)}


def test_demo_names(mount, emulator):
    state = emulator.state(only=["printers", "shares"])
    names = set(os.listdir(mount.p("printers")))
    by_name = {p["displayName"]: p for p in state["printers"]}

    assert "Sales\uff0fMarketing MFP" in names        # '/' -> U+FF0F
    assert "Café Drucker" in names                     # UTF-8 kept
    assert "Café Drucker".encode() in os.listdir(mount.p("printers").encode())
    labs = [p for p in state["printers"] if p["displayName"] == "Lab Printer"]
    assert len(labs) == 2
    assert "Lab Printer" not in names
    for p in labs:
        name = "Lab Printer ~" + p["id"][:8]
        assert name in names
        assert xattr(mount.p("printers", name), "id") == p["id"]
    assert by_name["Sales/Marketing MFP"]["id"] == xattr(
        mount.p("printers", "Sales\uff0fMarketing MFP"), "id")
    # The share of the slash printer links to it by its encoded name.
    link = mount.p("shares", "Sales & Marketing", "printer")
    assert os.readlink(link) == "../../printers/Sales\uff0fMarketing MFP"


WEIRD = {
    "aaaaaaaa-0000-4000-8000-000000000001": ".",
    "aaaaaaab-0000-4000-8000-000000000002": "..",
    "aaaaaaac-0000-4000-8000-000000000003": "tab\there",
    "aaaaaaad-0000-4000-8000-000000000004": "new\nline\r",
    "aaaaaaae-0000-4000-8000-000000000005": "del\x7fete\x1b[0m",
    "aaaaaaaf-0000-4000-8000-000000000006": "...",
    "aaaaaab0-0000-4000-8000-000000000007": " .hidden? no",
}
LONG = {
    "bbbbbbbb-0000-4000-8000-000000000001": "x" * 300,
    "bbbbbbbc-0000-4000-8000-000000000002": "é" * 200,    # 400 bytes
    "bbbbbbbd-0000-4000-8000-000000000003": "a" + "€" * 100,  # odd cut
}


def test_added_printers_get_encoded_names(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=FAST)
    before = set(os.listdir(mount.p("printers")))
    for pid, name in list(WEIRD.items()) + list(LONG.items()):
        emulator.add_printer(id=pid, displayName=name)

    def all_listed():
        got = printer_names(mount)
        return got if set(WEIRD) | set(LONG) <= set(got) else None

    got = util.wait_until(all_listed, timeout=15,
                          what="the new printers in printers/")
    want = {
        "aaaaaaaa-0000-4000-8000-000000000001": "\uff0e",
        "aaaaaaab-0000-4000-8000-000000000002": "\uff0e\uff0e",
        "aaaaaaac-0000-4000-8000-000000000003": "tab\u2409here",
        "aaaaaaad-0000-4000-8000-000000000004": "new\u240aline\u240d",
        "aaaaaaae-0000-4000-8000-000000000005": "del\u2421ete\u241b[0m",
        "aaaaaaaf-0000-4000-8000-000000000006": "...",
        "aaaaaab0-0000-4000-8000-000000000007": " .hidden? no",
    }
    for pid, name in want.items():
        assert got[pid] == name, (WEIRD[pid], got[pid])
        assert encode_name(WEIRD[pid], pid) == name     # the helper agrees
    for pid, display in LONG.items():
        name = got[pid]
        assert util.is_long_name_of(name, display, pid), \
            "%r (%d bytes) for %d bytes of %r" % (
                name, len(name.encode()), len(display.encode()), display[0])
        name.encode("utf-8")    # raises on bytes that were not UTF-8
    # The old names did not move, and every new one opens.
    assert before <= set(os.listdir(mount.p("printers")))
    state = {p["id"]: p for p in emulator.state(only=["printers"])[
        "printers"]}
    for pid, name in got.items():
        if pid in WEIRD or pid in LONG:
            d = mount.p("printers", name)
            assert util.read_json(os.path.join(d, "printer.json"))[
                "displayName"] == (WEIRD.get(pid) or LONG[pid])
            assert util.read_text(os.path.join(d, "status")) == \
                util.status_line(state[pid]["status"])
    out = util.run(["ls", "-la", mount.p("printers")])
    assert out.stderr == ""


def test_a_new_twin_renames_both(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=FAST)
    state = emulator.state(only=["printers"])
    cafe = next(p for p in state["printers"]
                if p["displayName"] == "Café Drucker")
    assert "Café Drucker" in os.listdir(mount.p("printers"))
    twin = "cccccccc-0000-4000-8000-000000000001"
    emulator.add_printer(id=twin, displayName="Café Drucker")

    def renamed():
        names = set(os.listdir(mount.p("printers")))
        return ("Café Drucker ~" + cafe["id"][:8] in names
                and "Café Drucker ~cccccccc" in names
                and "Café Drucker" not in names)

    util.wait_until(renamed, timeout=15, what="both twins suffixed")
    assert xattr(mount.p("printers", "Café Drucker ~cccccccc"), "id") == twin
    # The share's printer link follows the rename.
    link = mount.p("shares", "Café", "printer")
    assert os.readlink(link) == "../../printers/Café Drucker ~" + \
        cafe["id"][:8]
    assert xattr(link, "id") == cafe["id"]


def test_same_name_across_remounts(emulator, upfs_mount):
    emulator.add_printer(id="dddddddd-0000-4000-8000-000000000001",
                         displayName="Lab Printer")
    emulator.add_printer(id="dddddddd-1111-4000-8000-000000000002",
                         displayName="y" * 280)
    first = upfs_mount(emulator)
    names1 = printer_names(first)
    shares1 = sorted(os.listdir(first.p("shares")))
    cache = first.cache_dir
    first.unmount()

    warm = upfs_mount(emulator, cache_dir=cache)       # from the cache
    assert printer_names(warm) == names1
    assert sorted(os.listdir(warm.p("shares"))) == shares1
    warm.unmount()

    cold = upfs_mount(emulator)                        # from the service
    assert printer_names(cold) == names1
    assert sorted(os.listdir(cold.p("shares"))) == shares1

    state = emulator.state(only=["printers"])
    want = expected_names(p for p in state["printers"]
                          if len(p["displayName"]) < 200)
    for pid, name in want.items():
        assert names1[pid] == name
    assert names1["dddddddd-0000-4000-8000-000000000001"] == \
        "Lab Printer ~dddddddd"


def test_queue_names(emulator, upfs_mount):
    state = emulator.state(only=["shares"])
    floor3 = next(s for s in state["shares"] if s["displayName"] == "Floor3")
    jobs = [emulator.add_job(shareId=floor3["id"], state=st,
                             documentName=doc, size=size)
            for st, doc, size in (("pending", "Report.pdf", 1000),
                                  ("processing", "Report.pdf", 2000),
                                  ("paused", "Report.pdf", 3000),
                                  ("pending", "a/b\tc.pdf", 4000),
                                  ("pending", "README", 5),
                                  ("pending", "README", 6),
                                  ("completed", "Done.pdf", 7))]
    mount = upfs_mount(emulator)
    q = mount.p("shares", "Floor3", "queue")
    names = sorted(os.listdir(q))
    assert names == sorted(["Report.pdf", "Report ~2.pdf", "Report ~3.pdf",
                            "a\uff0fb\u2409c.pdf", "README", "README ~2"])
    by_id = {j["id"]: j for j in jobs}
    ids = set()
    for name in names:
        path = os.path.join(q, name)
        jid = xattr(path, "id")
        ids.add(jid)
        doc = by_id[jid]["documents"][0]
        assert os.stat(path).st_size == (
            doc["size"] if doc.get("uploadedDateTime") else 0), name
        assert xattr(path, "document") == \
            by_id[jid]["documents"][0]["displayName"]
    assert ids == {j["id"] for j in jobs if j["status"]["state"] !=
                   "completed"}
    # ls -l shows the document sizes.
    out = util.run(["ls", "-l", q])
    sizes = {line.split(None, 8)[8]: int(line.split()[4])
             for line in out.stdout.splitlines()[1:]}
    assert sizes["a\uff0fb\u2409c.pdf"] == 4000
