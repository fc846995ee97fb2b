"""What the kernel may cache, and when upfs tells it to forget (issue 9's
warm ls -lR; design.md §5).

Folders are opened with cache_readdir: the kernel answers a second ls from
its own copy of the listing, kept across opens only while upfs's listing is
the same. Edited files (allowed_users, defaults.json, ctl, options, ...)
keep the folder's time-outs; a commit through the mount drops the kernel's
attributes of that file, so `stat` right after `close` gives the size of
the text the service now holds, not of what was written."""

import errno
import os

import pytest

import util

SHARE = "Reception"             # allowed_users alice, bob
PRINTER = "Floor3 LaserJet"
ALICE, BOB, CAROL = ("%s@contoso.com" % n for n in ("alice", "bob",
                                                     "carol"))
LONG = ["dir_ttl=600", "status_ttl=600"]


def size_and_text(path):
    size = os.stat(path).st_size
    return size, util.read_text(path)


def names(path):
    return sorted(os.listdir(path))


# --- edited files: the size after a commit ---------------------------------

def test_size_after_an_edit_is_the_services_text(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=LONG)
    path = mount.p("shares", SHARE, "allowed_users")
    assert size_and_text(path) == (len("%s\n%s\n" % (ALICE, BOB)),
                                   "%s\n%s\n" % (ALICE, BOB))
    # Comments, blanks and a repeat: longer than what the file reads back.
    with open(path, "w") as fh:
        fh.write("# reception\n\n%s\n%s\n%s\n%s\n" % (CAROL, BOB, ALICE,
                                                       BOB))
    want = "%s\n%s\n%s\n" % (ALICE, BOB, CAROL)
    assert size_and_text(path) == (len(want), want)
    ls = util.run(["ls", "-l", path]).stdout.split()
    assert int(ls[4]) == len(want)


def test_size_after_a_refused_edit_is_unchanged(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=LONG)
    mount.expect_warning(r"allowed_users of share .* refused")
    path = mount.p("shares", SHARE, "allowed_users")
    before = "%s\n%s\n" % (ALICE, BOB)
    assert size_and_text(path) == (len(before), before)
    fh = open(path, "a")
    fh.write("nobody-at-all@contoso.com\n" * 3)
    with pytest.raises(OSError) as exc:
        fh.close()
    assert exc.value.errno == errno.EINVAL
    assert size_and_text(path) == (len(before), before)


def test_size_of_options_after_truncate_and_write(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=LONG)
    path = mount.p("shares", SHARE, "options")
    original = util.read_text(path)
    with open(path, "w") as fh:
        fh.write("copies=2\n")
    size, text = size_and_text(path)
    assert size == len(text.encode()) and "copies=2" in text
    os.truncate(path, 0)
    size, text = size_and_text(path)
    assert size == len(text.encode()) and "copies=2" not in text
    assert text == original


def test_ctl_reads_empty_after_a_command(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=LONG)
    path = mount.p("printers", PRINTER, "ctl")
    assert size_and_text(path) == (0, "")
    with open(path, "w") as fh:
        fh.write("restore-defaults\n")
    assert size_and_text(path) == (0, "")


# --- folders: the kernel's copy of a listing ---------------------------------

def test_listing_follows_the_service_after_the_ttl(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    printers = mount.p("printers")
    first = names(printers)
    assert names(printers) == first         # again: from the kernel's copy
    added = emulator.add_printer(displayName="Annex Plotter")
    util.wait_until(lambda: "Annex Plotter" in names(printers), timeout=15,
                    what="the new printer in ls")
    emulator.delete_printer(added["id"])
    util.wait_until(lambda: names(printers) == first, timeout=15,
                    what="the deleted printer gone from ls")


def test_listing_within_the_ttl_is_kept(emulator, upfs_mount):
    mount = upfs_mount(emulator, options=LONG)
    printers = mount.p("printers")
    first = names(printers)
    emulator.add_printer(displayName="Annex Plotter")
    emulator.reset_requests()
    for _ in range(5):
        assert names(printers) == first
    assert emulator.request_total() == 0


def test_local_changes_show_at_once(emulator, upfs_mount):
    """mkdir, rmdir and mv change the folder in the kernel's eyes:
    its copy of the listing is dropped at once, TTL or not."""
    mount = upfs_mount(emulator, options=LONG)
    shares = mount.p("shares")
    first = names(shares)
    os.mkdir(os.path.join(shares, "Annex"))
    assert names(shares) == sorted(first + ["Annex"])
    os.rmdir(os.path.join(shares, "Annex"))
    assert names(shares) == first
    os.rename(os.path.join(shares, SHARE), os.path.join(shares, "Lobby"))
    assert names(shares) == sorted([n for n in first if n != SHARE]
                                   + ["Lobby"])


def test_a_handle_opened_before_a_change(emulator, upfs_mount):
    """An ls still reading the old listing while another opens the new
    one: the old one may fill the kernel's copy with its snapshot after
    the new open dropped it. Once both are closed, the next ls must show
    the new listing, not that copy."""
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    printers = mount.p("printers")
    first = names(printers)
    want = sorted(first + ["Annex Plotter"])
    old = os.open(printers, os.O_RDONLY | os.O_DIRECTORY)
    try:
        emulator.add_printer(displayName="Annex Plotter")
        # Lookups (not opens) bring upfs's listing up to date.
        util.wait_until(lambda: os.path.exists(
            os.path.join(printers, "Annex Plotter")), timeout=15,
            what="the new printer to be looked up")
        new = os.open(printers, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert sorted(os.listdir(old)) in (first, want)
            assert sorted(os.listdir(new)) in (first, want)
        finally:
            os.close(new)
    finally:
        os.close(old)
    assert names(printers) == want
    assert names(printers) == want


def test_documents_prefer_one_mib_pieces(emulator, upfs_mount, workdir):
    """st_blksize of a document is what one FUSE write carries: cp sizes
    its buffer by it, so a copy takes one request per MiB, not per 128
    KiB."""
    mount = upfs_mount(emulator, options=LONG)
    local = mount.p("shares", "Floor3", "queue", ".draft.pdf")
    with open(local, "wb") as fh:
        assert os.fstat(fh.fileno()).st_blksize == 1 << 20
        fh.write(b"%PDF-1.4\n")
    assert os.stat(local).st_blksize == 1 << 20
    os.unlink(local)
    assert os.stat(mount.p("printers", PRINTER, "status")).st_blksize \
        == 4096
