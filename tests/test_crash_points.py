"""kill -9 at seeded points (issue 10): upfs is killed after the K-th
request of a burst of printing (K from a seeded generator, so each point
is reproducible), then mounted again on the same cache. Every document
that was handed over (its cp returned 0, or its outbox record exists) is
printed exactly once with its bytes; no job is left waiting for its
document; LMDB opens clean, with no reader left holding a transaction.

UPFS_CRASH_POINTS sets how many points (default 10; the long run of
tools/check uses 50); UPFS_CRASH_SEED the first seed (default 1), so a
failing point can be run alone."""

import os
import random
import signal
import subprocess
import sys

import pytest

from test_print import job_ids, make_pdf, pending_entries, write_file
from test_print_failures import (check_exactly_once, lmdb_records,
                                 outbox_records, unflushed_log)

import util

SHARE = "Floor3"
POINTS = int(os.environ.get("UPFS_CRASH_POINTS", "10"))
FIRST_SEED = int(os.environ.get("UPFS_CRASH_SEED", "1"))
DOCS = 4


def stale_readers(cache_dir):
    """Reader-table slots still holding a transaction (mdb_stat -r)."""
    proc = subprocess.run(["mdb_stat", "-r", cache_dir], capture_output=True,
                          text=True)
    # mdb_stat -r exits 1 when it printed "(no active readers)".
    assert "Reader Table Status" in proc.stdout, proc.stderr
    held = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        # "    pid     thread     txnid" rows; "-" is an idle slot.
        if len(parts) == 3 and parts[0].isdigit() and parts[2] != "-":
            held.append(line.strip())
    return held


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + POINTS))
def test_kill_9_at_a_seeded_point(start_emulator, upfs_mount, workdir, seed):
    rnd = random.Random(seed)
    # Ranges of ~1 MB: each document is a create, a session, a few PUTs
    # and a start, so 40 requests span every step of four documents.
    kill_after = rnd.randint(1, 40)
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu)
    cache = mount.cache_dir
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    docs = {}
    for i in range(DOCS):
        name = "crash-%d-%d.pdf" % (seed, i)
        docs[name] = make_pdf(name, rnd.randint(200 * 1024, 9 * 1024 * 1024))
        write_file(os.path.join(workdir, name), docs[name])
    emu.reset_requests()
    procs = {name: subprocess.Popen(["cp", os.path.join(workdir, name),
                                     queue + "/"],
                                    stderr=subprocess.PIPE, text=True)
             for name in sorted(docs)}
    util.wait_until(lambda: emu.request_total() >= kill_after or
                    all(p.poll() is not None for p in procs.values()),
                    timeout=60, interval=0.005,
                    what="request %d of the burst" % kill_after)
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    results = {n: (p.wait(util.scaled(30)), p.stderr.read())
               for n, p in procs.items()}
    assert util.unmount_path(mount.path)

    assert stale_readers(cache) == []
    # Every table opens and reads after the crash, and so does every line
    # of the unflushed log.
    proc = subprocess.run(["mdb_stat", "-a", cache], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "Status of outbox" in proc.stdout, \
        proc.stderr
    assert unflushed_log(cache)[1] == 0
    spooled = {r["name"] for r in outbox_records(cache).values()}
    ok = {n for n, (rc, _) in results.items() if rc == 0}
    for name, (rc, err) in results.items():
        if rc != 0:
            assert "Transport endpoint is not connected" in err or \
                "Software caused connection abort" in err, (name, err)

    mount = upfs_mount(emu, cache_dir=cache)
    queue = mount.p("shares", SHARE, "queue")
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the spooled documents to finish after the crash")
    check_exactly_once(emu, mount, share["id"], before, docs,
                       required=ok | spooled)


# The permission edits killed part-way: share, old list, new list, and
# how the service's list reads (sorted names).
OLD_USERS = ["alice@contoso.com", "bob@contoso.com"]
NEW_USERS = ["carol@contoso.com", "dave@contoso.com", "erin@contoso.com"]


def users_of(emu, share):
    return sorted(u["userPrincipalName"]
                  for u in emu.share_by_name(share)["allowedUsers"])


def groups_of(emu, share):
    names = {g["id"]: g["displayName"] for g in emu.state()["groups"]}
    return sorted(names[g["id"]]
                  for g in emu.share_by_name(share)["allowedGroups"])


PERM_EDITS = {
    "allowed_users": ("Reception", OLD_USERS, NEW_USERS, users_of),
    "allowed_groups": ("Sales & Marketing", ["Marketing", "Sales"],
                       ["Lab Staff"], groups_of),
}


def journal_keys(cache_dir):
    return [k for k in lmdb_records(cache_dir, "local")
            if k.startswith("perms/")]


def write_list(path, lines):
    """A process writing lines to path, one per line, as a new text.
    Python, not a shell: a shell ignores the close() that fails."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "with open(sys.argv[1], 'w') as fh: fh.write(sys.argv[2])",
         path, "".join(u + "\n" for u in lines)],
        stderr=subprocess.PIPE, text=True)


def kill_mid_commit(mount, writer):
    """kill -9 of the daemon while writer's close() commits: the close
    fails, and the dead mount is gone."""
    mount.proc.send_signal(signal.SIGKILL)
    mount.wait_exit()
    assert writer.wait(util.scaled(30)) != 0
    assert util.unmount_path(mount.path)


def mount_for_a_list(start_emulator, upfs_mount, file):
    """A mount that has read the list file of PERM_EDITS, with the write
    log cleared: (emulator, mount, its cache_dir, the file's path)."""
    share, old = PERM_EDITS[file][:2]
    emu = start_emulator()
    mount = upfs_mount(emu)
    path = mount.p("shares", share, file)
    assert util.read_text(path).splitlines() == old
    emu.reset_writes()
    return emu, mount, mount.cache_dir, path


@pytest.mark.parametrize("file,applied", [
    ("allowed_users", 1), ("allowed_users", 2), ("allowed_users", 4),
    ("allowed_groups", 1), ("allowed_groups", 2)])
def test_kill_9_mid_permission_commit(start_emulator, upfs_mount, file,
                                      applied):
    """allowed_users from alice, bob to carol, dave, erin is five $ref
    calls, allowed_groups from Marketing, Sales to Lab Staff three. upfs
    is killed after `applied` of them took effect (the next one hangs,
    then is refused, so it never does). Before the next mount another
    admin adds someone to the users. The next mount finds the commit's
    journal and undoes what of it went through, leaving the other
    admin's addition: the old list and that user; the file reads it, and
    the journal is gone."""
    share, old, new, list_of = PERM_EDITS[file]
    emu, mount, cache, path = mount_for_a_list(start_emulator, upfs_mount,
                                               file)
    emu.set_faults("slow:1:60,reset:1,route=/$ref$,after=%d,times=1"
                   % applied)
    writer = write_list(path, new)
    util.wait_until(lambda: len(emu.writes()) >= applied, timeout=30,
                    interval=0.01, what="%d $ref calls" % applied)
    assert journal_keys(cache) != [], "no journal while the commit runs"
    kill_mid_commit(mount, writer)
    emu.set_faults("")
    half = list_of(emu, share)
    assert half not in (old, new), half   # cut part-way
    if file == "allowed_users":
        sid = emu.share_by_name(share)["id"]
        emu.call("PATCH", "/_emulator/shares/" + sid,
                 {"allowedUsers": half + ["admin@contoso.com"]})
        old = sorted(old + ["admin@contoso.com"])

    again = upfs_mount(emu, cache_dir=cache)
    util.wait_until(lambda: list_of(emu, share) == old, timeout=30,
                    what="the old list restored")
    util.wait_until(lambda: journal_keys(cache) == [], timeout=10,
                    what="the journal removed")
    path = again.p("shares", share, file)
    assert util.read_text(path).splitlines() == old
    assert stale_readers(cache) == []


def test_a_commit_settles_the_record_a_stop_left_for_its_list_first(
        start_emulator, upfs_mount):
    """upfs is killed after the first of five $ref calls (carol added),
    and the next mount cannot settle the journal (the list's GET fails
    past its retries). A commit of the same list then settles it first,
    undoing carol, rather than writing its own record over it, which
    would have left carol's access from a change whose close() failed
    for good. The commit itself adds erin; the journal is gone."""
    share, old, new, list_of = PERM_EDITS["allowed_users"]
    emu, mount, cache, path = mount_for_a_list(start_emulator, upfs_mount,
                                               "allowed_users")
    emu.set_faults("slow:1:60,reset:1,route=/$ref$,after=1,times=1")
    writer = write_list(path, new)
    util.wait_until(lambda: len(emu.writes()) >= 1, timeout=30,
                    interval=0.01, what="the first $ref call")
    kill_mid_commit(mount, writer)
    assert list_of(emu, share) == sorted(old + ["carol@contoso.com"])

    emu.set_faults("500:1,method=GET,route=/allowedUsers$")
    again = upfs_mount(emu, cache_dir=cache)
    again.expect_warning(r"could not be settled yet|HTTP 500")
    util.wait_until(lambda: "could not be settled yet" in again.log(),
                    timeout=60, what="the mount's settling to fail")
    emu.set_faults("")
    assert journal_keys(cache) != []
    path = again.p("shares", share, "allowed_users")
    with open(path, "a") as fh:
        fh.write("erin@contoso.com\n")
    assert list_of(emu, share) == sorted(old + ["erin@contoso.com"])
    assert "its changes are undone" in again.log()
    assert journal_keys(cache) == []


def test_kill_9_after_the_service_took_the_whole_list(start_emulator,
                                                      upfs_mount):
    """All five $ref calls took effect, but the last one's reply was a
    500 (the emulator's done500), so upfs reads the list back to see what
    the service holds, and is killed while that read hangs: the journal
    is left. The next mount finds the new list whole at the service and
    keeps it (restoring the old one would undo a change that was made);
    the file reads it, and the journal is gone."""
    share, old, new, list_of = PERM_EDITS["allowed_users"]
    emu, mount, cache, path = mount_for_a_list(start_emulator, upfs_mount,
                                               "allowed_users")
    # The first GET of the list is the commit's own, before any $ref.
    emu.set_faults("done500:1,route=/$ref$,after=4,times=1;"
                   "slow:1:60,method=GET,route=/allowedUsers$,after=1,"
                   "times=1")
    writer = write_list(path, new)
    util.wait_until(lambda: len(emu.writes()) >= 5 and
                    list_of(emu, share) == new, timeout=30, interval=0.01,
                    what="the five $ref calls")
    util.wait_until(lambda: emu.requests()["routes"].get(
        "GET /print/shares/{id}/allowedUsers", 0) >= 2, timeout=30,
        interval=0.01, what="the read-back of the list")
    assert journal_keys(cache) != [], "no journal while the commit settles"
    kill_mid_commit(mount, writer)
    emu.set_faults("")

    again = upfs_mount(emu, cache_dir=cache)
    util.wait_until(lambda: journal_keys(cache) == [], timeout=30,
                    what="the journal settled")
    assert list_of(emu, share) == new
    assert util.read_text(again.p("shares", share,
                                  "allowed_users")).splitlines() == new
