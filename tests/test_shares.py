"""Who may print, and the shares themselves, managed through the tree
(design.md §2, §4; issue 4).

shares/<s>/allowed_users, allowed_groups and allow_all_users are edited with
real programs (echo >>, sed -i, vim in every save mode, cat >, cp, Python,
a nano-style truncate and write); each commit must send exactly the
difference, checked in the emulator's write log. A refused commit (unknown
user, ambiguous group, malformed line, 403, a failure part-way) fails with
its errno, leaves the file and the service as they were (zero writes, or
writes that undo each other) and says why in the log and .upfs/status.

Shares are made with mkdir + ln -s, renamed with mv, re-pointed with ln -sfn
and deleted with rmdir; their refusals map to EEXIST, ENOENT, EINVAL and
EACCES and change nothing. Editors' temporary files stay on the mount."""

import errno
import json
import os
import re
import subprocess

import pytest

import util

SHARE = "Reception"             # allowed_users alice, bob; allowAllUsers false
GROUP_SHARE = "Sales & Marketing"   # allowed_groups Marketing, Sales
LAB = "Lab A"                   # allowed_groups Lab Staff
SPARE = "Spare Printer"         # added by the tests, never shared
VIM = "/usr/bin/vim"
UUID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")

ALICE, BOB, CAROL, DAVE, ERIN = ("%s@contoso.com" % n for n in (
    "alice", "bob", "carol", "dave", "erin"))


# --- helpers -----------------------------------------------------------------

def read(path):
    return util.read_text(path)


def share_of(emu, name):
    return emu.share_by_name(name)


def users_of(emu, name):
    return sorted(u["userPrincipalName"]
                  for u in share_of(emu, name)["allowedUsers"])


def groups_of(emu, name):
    return sorted(g["id"] for g in share_of(emu, name)["allowedGroups"])


def directory(emu):
    """{id: UPN or group name or printer name} of the whole tenant."""
    st = emu.state()
    out = {u["id"]: u["userPrincipalName"] for u in st["users"]}
    out.update({g["id"]: g["displayName"] for g in st["groups"]})
    out.update({p["id"]: p["displayName"] for p in st["printers"]})
    return out


def changes(emu, share_id=None):
    """The emulator's write log since the last reset, one readable string a
    write: "+user carol@contoso.com", "-group Sales", "patch {json}",
    "create NAME on PRINTER", "delete" ("... on <id>" / "delete <id>" when
    the write is not for share_id). Anything else: "METHOD path"."""
    names = directory(emu)
    out = []
    for w in emu.writes():
        segs = [s for s in w["path"].split("/") if s]
        if segs and segs[0] in ("v1.0", "beta"):
            segs = segs[1:]
        where = ""
        if segs[:2] == ["print", "shares"] and len(segs) > 2 \
                and segs[2] != share_id:
            where = " on " + segs[2]
        if segs[:2] == ["print", "shares"] and len(segs) >= 5 \
                and segs[-1] == "$ref" and segs[3] in ("allowedUsers",
                                                       "allowedGroups"):
            kind = "user" if segs[3] == "allowedUsers" else "group"
            if w["method"] == "POST":
                oid = w["body"]["@odata.id"].rstrip("/").rsplit("/", 1)[1]
                out.append("+%s %s%s" % (kind, names.get(oid, oid), where))
            else:
                out.append("-%s %s%s" % (kind, names.get(segs[4], segs[4]),
                                         where))
        elif segs == ["print", "shares"] and w["method"] == "POST":
            pid = w["body"]["printer@odata.bind"].rsplit("/", 1)[1]
            out.append("create %s on %s" % (w["body"]["displayName"],
                                            names.get(pid, pid)))
        elif segs[:2] == ["print", "shares"] and len(segs) == 3 \
                and w["method"] == "PATCH":
            body = dict(w["body"])
            bind = body.pop("printer@odata.bind", None)
            if bind:
                pid = bind.rsplit("/", 1)[1]
                body["printer"] = names.get(pid, pid)
            out.append("patch%s %s" % (where, json.dumps(body,
                                                         sort_keys=True)))
        elif segs[:2] == ["print", "shares"] and len(segs) == 3 \
                and w["method"] == "DELETE":
            out.append("delete" + (" " + segs[2] if where else ""))
        else:
            out.append("%s %s" % (w["method"], w["path"]))
    return out


def assert_no_writes(emu, what):
    log = emu.writes()
    assert log == [], "%s reached the service: %s" % (
        what, ["%s %s %s" % (w["method"], w["path"], w["body"])
               for w in log])


def assert_no_temp_writes(emu):
    """Editors' files never reach the service: every write is a $ref or a
    share PATCH, and none names a temporary file."""
    for w in emu.writes():
        # The emulator's port and the service's ids are digits and hex that
        # can hold "4913" by chance; only the rest could name a file.
        text = (w["path"] + json.dumps(w["body"])).replace(emu.base, "")
        text = UUID.sub("", text)
        for mark in ("4913", ".swp", "~", "/sed", ".tmp"):
            assert mark not in text, "a temporary file reached the " \
                "service: %s %s %s" % (w["method"], w["path"], w["body"])


def assert_no_refusal(mount, what):
    bad = [ln for ln in mount.log().splitlines() if "refused" in ln]
    assert bad == [], "%s logged a refusal: %s" % (what, bad)


def close_errno(path, text, mode="a"):
    """Appends by default: the edits here add a line."""
    return util.close_errno(path, text, mode)


def share_listing(mount, name):
    return sorted(os.listdir(mount.p("shares", name)))


FIXED = sorted(["allow_all_users", "allowed_groups", "allowed_users", "jobs",
                "options", "printer", "queue", "share.json"])


@pytest.fixture
def emu(emulator):
    """The demo tenant plus a printer no share uses, and a clean write
    log."""
    emulator.add_printer(displayName=SPARE)
    emulator.reset_writes()
    return emulator


@pytest.fixture
def admin(emu, upfs_mount):
    return upfs_mount(emu)


@pytest.fixture
def bob(emu, upfs_mount):
    """A mount signed in as bob, who is not a Printer Administrator."""
    return upfs_mount(emu, token=emu.mint_token(BOB))


def refused(mount, emu, share, file, reason):
    """Declares the refusal warning the commit must log, and returns a
    checker for its .upfs/status."""
    sid = share_of(emu, share)["id"]
    mount.expect_warning(r"^upfs: warning: %s of share '%s' refused: .*%s"
                         % (file, sid, reason))

    def check_status():
        last = mount.status()["last_error"]
        assert file in last and "refused" in last, last
        return last
    return check_status


# --- allowed_users: every editor --------------------------------------------

def _echo_append(d, workdir):
    util.run(["sh", "-c", "echo %s >> allowed_users" % CAROL], cwd=d)


def _cat_redirect(d, workdir):
    util.run(["sh", "-c", "cat > allowed_users"], cwd=d,
             input="%s\n%s\n%s\n" % (ALICE, BOB, CAROL))


def _cp(d, workdir):
    src = os.path.join(workdir, "list")
    with open(src, "w") as fh:
        fh.write("%s\n%s\n%s\n" % (CAROL, BOB, ALICE))
    util.run(["cp", src, os.path.join(d, "allowed_users")])


def _python_w(d, workdir):
    with open(os.path.join(d, "allowed_users"), "w") as fh:
        fh.write("# who may print at reception\n\n  %s  \n%s\n%s\n"
                 "# end\n" % (BOB, CAROL, ALICE))


def _nano(d, workdir):
    """nano's save without a backup: open the file, truncate it, write the
    new text, close."""
    fd = os.open(os.path.join(d, "allowed_users"), os.O_WRONLY)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, ("%s\n%s\n%s\n" % (ALICE, BOB, CAROL)).encode())
    finally:
        os.close(fd)


@pytest.mark.parametrize("writer", [_echo_append, _cat_redirect, _cp,
                                    _python_w, _nano],
                         ids=["echo>>", "cat>", "cp", "python-w", "nano"])
def test_adding_a_user_sends_one_ref(emu, admin, workdir, writer):
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n" % (ALICE,
                                                                   BOB)
    writer(d, workdir)
    assert changes(emu, sid) == ["+user " + CAROL]
    assert users_of(emu, SHARE) == [ALICE, BOB, CAROL]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n%s\n" % (
        ALICE, BOB, CAROL)
    assert share_listing(admin, SHARE) == FIXED


def test_sed_i_removes_a_user(emu, admin):
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    util.run(["sed", "-i", "/^bob@/d", "allowed_users"], cwd=d)
    assert changes(emu, sid) == ["-user " + BOB]
    assert users_of(emu, SHARE) == [ALICE]
    assert read(os.path.join(d, "allowed_users")) == ALICE + "\n"
    assert share_listing(admin, SHARE) == FIXED, "sed's temporary file " \
        "was left behind"
    assert_no_temp_writes(emu)


def test_sed_i_replaces_a_user(emu, admin):
    """One add and one remove from a single rename()."""
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    util.run(["sed", "-i", "s/^bob@/dave@/", "allowed_users"], cwd=d)
    assert sorted(changes(emu, sid)) == ["+user " + DAVE, "-user " + BOB]
    assert users_of(emu, SHARE) == [ALICE, DAVE]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n" % (ALICE,
                                                                   DAVE)


def test_shell_redirect_commits_once(emu, admin):
    """`printf ... > allowed_users`: the shell opens with O_TRUNC, dup2()s
    the descriptor to 1 and close()s the original before printf writes.
    That first close() must not commit an empty list: the service sees only
    the difference, and a refused text (an unknown user) changes nothing."""
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    refused(admin, emu, SHARE, "allowed_users",
            "unknown user 'nobody@contoso.com'")
    util.run(["sh", "-c", "printf '%s\\n%s\\nnobody@contoso.com\\n' "
              "> allowed_users" % (ALICE, BOB)], cwd=d)
    assert changes(emu, sid) == [], "the list was changed on the service"
    assert users_of(emu, SHARE) == [ALICE, BOB]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n" % (ALICE,
                                                                   BOB)


def test_a_group_of_commands_writing_the_list_commits_once(emu, admin,
                                                          workdir):
    """`{ cat a; cat b; } > allowed_users`: the shell opens the file, and
    each cat closes its copy of the descriptor at its exit. The first
    cat's close is not the end of the text (committing then would drop
    every user b holds for a moment); the shell's close commits it."""
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    first = os.path.join(workdir, "first")
    second = os.path.join(workdir, "second")
    with open(first, "w") as fh:
        fh.write(ALICE + "\n")
    with open(second, "w") as fh:
        fh.write("%s\n%s\n" % (BOB, CAROL))
    util.run(["sh", "-c", '{ cat "$1"; cat "$2"; } > allowed_users', "sh",
              first, second], cwd=d)
    assert changes(emu, sid) == ["+user " + CAROL]
    assert users_of(emu, SHARE) == [ALICE, BOB, CAROL]


def test_object_id_line_reads_back_as_upn(emu, admin):
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    dave = [u for u in emu.state(only=["users"])["users"]
            if u["userPrincipalName"] == DAVE][0]
    util.run(["sh", "-c", "echo %s >> allowed_users" % dave["id"]], cwd=d)
    assert changes(emu, sid) == ["+user " + DAVE]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n%s\n" % (
        ALICE, BOB, DAVE)


def test_an_append_after_a_line_read_back_longer_or_shorter(emu, admin):
    """The kernel puts an O_APPEND write at the size it cached, and does
    not ask again: after a commit whose text reads back otherwise (an
    object id read back as a UPN), the next `>>` must still go at the end
    of the list, not past it (NULs, the line refused) or into it."""
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    dave = [u for u in emu.state(only=["users"])["users"]
            if u["userPrincipalName"] == DAVE][0]
    assert len(dave["id"]) > len(DAVE)
    util.run(["sh", "-c", "echo %s >> allowed_users && "
              "echo %s >> allowed_users" % (dave["id"], ERIN)], cwd=d)
    assert changes(emu, sid) == ["+user " + DAVE, "+user " + ERIN]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n%s\n%s\n" % (
        ALICE, BOB, DAVE, ERIN)


def test_rewriting_the_same_list_sends_nothing(emu, admin):
    """Order, blank lines, comments and a repeated line do not matter."""
    path = admin.p("shares", SHARE, "allowed_users")
    with open(path, "w") as fh:
        fh.write("\n# same people\n%s\n%s\n%s\n" % (BOB, ALICE, BOB))
    assert_no_writes(emu, "an unchanged list")
    assert read(path) == "%s\n%s\n" % (ALICE, BOB)


def test_emptying_the_list_removes_everyone(emu, admin):
    path = admin.p("shares", SHARE, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    with open(path, "w") as fh:
        fh.write("# nobody\n")
    assert sorted(changes(emu, sid)) == ["-user " + ALICE, "-user " + BOB]
    assert users_of(emu, SHARE) == []
    assert read(path) == ""


@pytest.mark.parametrize("bad,reason", [
    (b"%s\x00\n", "holds a NUL byte"),
    (b"%s\n" + b"x" * 5000 + b"@contoso.com\n",
     "line 2 is 5012 bytes long: no user or group name is longer"),
    (b"%s extra words\n", "unknown user"),
    (b"%s\n\xff\xfe\n", "the file is not UTF-8"),
], ids=["nul", "long-line", "two-words", "not-utf8"])
def test_a_malformed_line_changes_nothing(emu, admin, bad, reason):
    """A line no user can have fails the close with EINVAL, with the
    reason, before anything is sent; the file still reads the list."""
    path = admin.p("shares", SHARE, "allowed_users")
    before = read(path)
    status = refused(admin, emu, SHARE, "allowed_users", re.escape(reason))
    text = bad % CAROL.encode() if b"%s" in bad else bad
    assert close_errno(path, text, "wb") == errno.EINVAL
    assert_no_writes(emu, "a malformed line")
    assert reason in status()
    assert read(path) == before


def test_line_length_limit_and_quoting(emu, admin):
    """A line of 1,024 bytes is looked up (no user has it); one of 1,025
    is refused unread. A long unknown name is quoted clipped between
    characters, so .upfs/status stays UTF-8."""
    path = admin.p("shares", SHARE, "allowed_users")
    before = read(path)
    admin.expect_warning(r"allowed_users of share .* refused")
    name = "\u00e9" * 506 + "@contoso.com"          # 1,024 bytes
    assert len(name.encode()) == 1024
    emu.reset_requests()
    assert close_errno(path, before + name + "\n", "w") == errno.EINVAL
    last = admin.status()["last_error"]
    assert "unknown user '" + "\u00e9" * 40 + "...'" in last, last
    assert emu.requests()["routes"].get("GET /users/{id}", 0) == 1
    emu.reset_requests()
    assert close_errno(path, before + name + "x\n", "w") == errno.EINVAL
    assert "is 1025 bytes long" in admin.status()["last_error"]
    assert emu.requests()["routes"].get("GET /users/{id}", 0) == 0
    assert_no_writes(emu, "refused lines")
    assert read(path) == before


def test_a_byte_order_mark_is_no_part_of_the_first_name(emu, admin):
    """Notepad saves UTF-8 with a byte order mark first."""
    path = admin.p("shares", SHARE, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    text = "\ufeff" + read(path) + CAROL + "\n"
    assert close_errno(path, text, "w") == 0
    assert changes(emu, sid) == ["+user " + CAROL]
    assert read(path) == "%s\n%s\n%s\n" % (ALICE, BOB, CAROL)


def test_a_lookup_the_service_fails_is_not_an_unknown_user(emu, admin):
    """The directory fails (500) while the line is looked up: a clean EIO
    naming the line, not EINVAL for an unknown user, and nothing sent."""
    path = admin.p("shares", SHARE, "allowed_users")
    before = read(path)
    status = refused(admin, emu, SHARE, "allowed_users",
                     re.escape("looking up '%s': HTTP 500" % CAROL))
    emu.set_faults("500:1,method=GET,route=/users/,times=5")
    assert close_errno(path, CAROL + "\n") == errno.EIO
    emu.set_faults("")
    assert_no_writes(emu, "a failed look-up")
    assert "looking up" in status()
    assert read(path) == before


def test_truncate_empties_the_list_before_it_returns(emu, admin):
    """truncate -s 0 (an ftruncate of an open file) is committed at its
    close, so a refusal fails the command; os.truncate (by path) commits
    at once."""
    path = admin.p("shares", SHARE, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    admin.expect_warning(r"allowed_users of share .* refused")
    emu.set_faults("403:1,method=DELETE,route=/allowedUsers/")
    refused = subprocess.run(["truncate", "-s", "0", path],
                             capture_output=True, text=True)
    emu.set_faults("")
    assert refused.returncode != 0
    assert "Permission denied" in refused.stderr, refused.stderr
    assert users_of(emu, SHARE) == [ALICE, BOB]
    assert read(path) == "%s\n%s\n" % (ALICE, BOB)
    emu.reset_writes()
    util.run(["truncate", "-s", "0", path])
    assert sorted(changes(emu, sid)) == ["-user " + ALICE, "-user " + BOB]
    assert read(path) == ""
    util.run(["sh", "-c", "echo %s > allowed_users" % CAROL],
             cwd=admin.p("shares", SHARE))
    emu.reset_writes()
    os.truncate(path, 0)
    assert changes(emu, sid) == ["-user " + CAROL]
    assert read(path) == ""


def test_colon_redirect_empties_the_list_after_close(emu, admin):
    """': > allowed_users' writes nothing: its commit waits for the last
    close of the file (a shell's 'cat > f' closes a copy of the descriptor
    before anything is written, which must not clear the list for a
    moment), so it lands just after the shell's close returns, and a
    refusal goes to the log and .upfs/status."""
    path = admin.p("shares", SHARE, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    util.run(["sh", "-c", ": > allowed_users"],
             cwd=admin.p("shares", SHARE))
    util.wait_until(lambda: users_of(emu, SHARE) == [], timeout=10,
                    what="the emptied list to be committed")
    assert sorted(changes(emu, sid)) == ["-user " + ALICE, "-user " + BOB]
    assert read(path) == ""
    # Refused: the list stays, and the mount says why.
    util.run(["sh", "-c", "echo %s > allowed_users" % BOB],
             cwd=admin.p("shares", SHARE))
    emu.reset_writes()
    admin.expect_warning(r"allowed_users of share .* refused")
    emu.set_faults("403:1,method=DELETE,route=/allowedUsers/")
    util.run(["sh", "-c", ": > allowed_users"],
             cwd=admin.p("shares", SHARE))
    util.wait_until(lambda: "allowed_users" in
                    admin.status()["last_error"], timeout=10,
                    what="the refusal in .upfs/status")
    emu.set_faults("")
    assert users_of(emu, SHARE) == [BOB]
    assert read(path) == BOB + "\n"


def test_an_edit_from_a_stale_view_keeps_what_others_changed(emu, admin,
                                                             upfs_mount):
    """Another admin's change since this mount read the list (its cached
    copy, or a moment before this edit) is neither undone nor lost: a
    commit changes the list only by the lines it added or removed from
    the text it started from. An append (a file opened on the list), then
    sed -i (a rename over it), each from a view that lacks the other
    admin's change."""
    other = upfs_mount(emu)
    d, od = admin.p("shares", SHARE), other.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n" % (ALICE,
                                                                   BOB)
    util.run(["sh", "-c", "echo %s >> allowed_users" % DAVE], cwd=od)
    emu.reset_writes()
    util.run(["sh", "-c", "echo %s >> allowed_users" % ERIN], cwd=d)
    assert changes(emu, sid) == ["+user " + ERIN]
    assert users_of(emu, SHARE) == [ALICE, BOB, DAVE, ERIN]

    # The other mount reads the list, then this one removes alice: the
    # other's sed -i, from its copy with alice, removes bob only.
    assert read(os.path.join(od, "allowed_users")).split() == [
        ALICE, BOB, DAVE, ERIN]
    util.run(["sed", "-i", "/^alice@/d", "allowed_users"], cwd=d)
    assert "alice" in read(os.path.join(od, "allowed_users"))   # stale
    emu.reset_writes()
    util.run(["sed", "-i", "/^bob@/d", "allowed_users"], cwd=od)
    assert changes(emu, sid) == ["-user " + BOB]
    assert users_of(emu, SHARE) == [DAVE, ERIN]


# An editor for util.edit_in_own_process: each line it is given, "+LINE" or
# "-LINE", adds or drops a line of the text it read (and changed so far),
# saved by a truncating write or (sed -i) a new file renamed over it.
EDITOR = r"""
import os, sys
path, how = sys.argv[1:]
with open(path) as fh:
    lines = fh.read().splitlines()
print("read", flush=True)
for command in sys.stdin:
    command = command.rstrip("\n")
    if command[0] == "+":
        lines.append(command[1:])
    else:
        lines.remove(command[1:])
    text = "".join(line + "\n" for line in lines)
    try:
        if how == "truncate":
            with open(path, "w") as fh:
                fh.write(text)
        else:
            tmp = os.path.join(os.path.dirname(path), ".edit.tmp")
            with open(tmp, "w") as fh:
                fh.write(text)
            os.rename(tmp, path)
        print(0, flush=True)
    except OSError as e:
        print(e.errno, flush=True)
"""


def nothing():
    pass


@pytest.mark.parametrize("how", ["truncate", "rename"])
def test_a_save_keeps_what_changed_since_the_editor_read(emu, admin,
                                                        upfs_mount, how):
    """An editor reads allowed_users, another admin adds dave meanwhile,
    and this mount's view has him by the time the editor saves (a
    truncating write, as nano does, or a file renamed over it, as sed -i
    does): the save adds erin and keeps dave, as it changes the list only
    by what it changed from the text its process read. A process that
    never read the file (echo > allowed_users) still makes the list what
    it wrote."""
    fresh = upfs_mount(emu, options=["dir_ttl=1", "status_ttl=1"])
    d, od = fresh.p("shares", SHARE), admin.p("shares", SHARE)
    path = os.path.join(d, "allowed_users")
    sid = share_of(emu, SHARE)["id"]

    def add_dave():
        util.run(["sh", "-c", "echo %s >> allowed_users" % DAVE], cwd=od)
        util.wait_until(lambda: DAVE in read(path), timeout=15,
                        what="the editing mount to see dave")
        emu.reset_writes()

    assert util.edit_in_own_process(EDITOR, [path, how],
                                    [(add_dave, "+" + ERIN)]) == ["0"]
    assert changes(emu, sid) == ["+user " + ERIN]
    assert users_of(emu, SHARE) == [ALICE, BOB, DAVE, ERIN]
    assert read(path).split() == [ALICE, BOB, DAVE, ERIN]

    emu.reset_writes()
    util.run(["sh", "-c", "printf '%s\\n%s\\n' > allowed_users"
              % (ALICE, DAVE)], cwd=d)
    assert sorted(changes(emu, sid)) == ["-user " + BOB, "-user " + ERIN]
    assert users_of(emu, SHARE) == [ALICE, DAVE]


def test_a_second_save_starts_from_the_first(emu, admin, upfs_mount):
    """An editor's second save, without reading again, changes the list
    by what it changed since its first save: bob, whom it removed and
    another admin has put back since, stays."""
    fresh = upfs_mount(emu, options=["dir_ttl=1", "status_ttl=1"])
    d, od = fresh.p("shares", SHARE), admin.p("shares", SHARE)
    path = os.path.join(d, "allowed_users")
    sid = share_of(emu, SHARE)["id"]

    def put_bob_back():
        assert users_of(emu, SHARE) == [ALICE]
        util.run(["sh", "-c", "echo %s >> allowed_users" % BOB], cwd=od)
        util.wait_until(lambda: BOB in read(path), timeout=15,
                        what="the editing mount to see bob again")
        emu.reset_writes()

    assert util.edit_in_own_process(
        EDITOR, [path, "truncate"],
        [(nothing, "-" + BOB), (put_bob_back, "+" + ERIN)]) == ["0", "0"]
    assert changes(emu, sid) == ["+user " + ERIN]
    assert users_of(emu, SHARE) == [ALICE, BOB, ERIN]


VIM_MODES = {
    # vim's default: probes the folder with a file named 4913.
    "backupcopy=auto": ["set backupcopy=auto"],
    # renames allowed_users to allowed_users~, writes a new file.
    "backupcopy=no": ["set backupcopy=no"],
    # copies to allowed_users~, overwrites the file in place.
    "backupcopy=yes": ["set backupcopy=yes"],
    # keeps allowed_users~ after the write.
    "backup": ["set backup", "set backupcopy=no"],
    "backup+yes": ["set backup", "set backupcopy=yes"],
}


def run_vim(d, sets, workdir, line):
    """vim -es with a swap file in the share folder: lists the folder while
    the file is open (into workdir/during), appends `line`, :wq."""
    during = os.path.join(workdir, "during")
    # backupskip's default skips /tmp/*, where the test mounts live.
    cmd = [VIM, "-u", "NONE", "-i", "NONE", "-N", "-es",
           "-c", "set directory=. swapfile backupskip= writebackup"]
    for s in sets:
        cmd += ["-c", s]
    cmd += ["-c", "call writefile(readdir('.'), '%s')" % during,
            "-c", "$put ='%s'" % line, "-c", "wq", "allowed_users"]
    proc = util.run(cmd, cwd=d, check=False)
    with open(during) as fh:
        seen = fh.read().split()
    return proc, seen


@pytest.mark.parametrize("mode", sorted(VIM_MODES))
def test_vim_saves(emu, admin, workdir, mode):
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    before = read(os.path.join(d, "allowed_users"))
    proc, seen = run_vim(d, VIM_MODES[mode], workdir, DAVE)
    assert proc.returncode == 0, "vim exited %d: %s%s" % (
        proc.returncode, proc.stdout, proc.stderr)
    assert ".allowed_users.swp" in seen, "vim made no swap file in the " \
        "share folder: %s" % seen
    assert changes(emu, sid) == ["+user " + DAVE]
    assert_no_temp_writes(emu)
    assert users_of(emu, SHARE) == [ALICE, BOB, DAVE]
    assert read(os.path.join(d, "allowed_users")) == "%s\n%s\n%s\n" % (
        ALICE, BOB, DAVE)
    left = sorted(set(share_listing(admin, SHARE)) - set(FIXED))
    if "backup" in VIM_MODES[mode][0].split():
        # 'backup' keeps the old text beside the file, on this mount only.
        assert left == ["allowed_users~"]
        assert read(os.path.join(d, "allowed_users~")) == before
        os.unlink(os.path.join(d, "allowed_users~"))
        assert share_listing(admin, SHARE) == FIXED
    else:
        assert left == [], "vim's files were left behind: %s" % left
    assert_no_temp_writes(emu)
    assert len(emu.writes()) == 1



@pytest.mark.parametrize("cut", ["truncate", "empty-open"])
def test_a_save_after_the_process_emptied_the_list_adds_back_what_it_writes(
        emu, admin, cut):
    """A process reads allowed_users (alice, bob), empties it (truncate()
    by path, or an open for writing closed with nothing written), then
    writes alice, bob and carol anew: the list is those three. Its next
    save starts from what it committed, the empty list, not from its read
    before, which took alice and bob for lines it kept."""
    path = admin.p("shares", SHARE, "allowed_users")
    assert read(path).splitlines() == [ALICE, BOB]
    if cut == "truncate":
        os.truncate(path, 0)
    else:
        open(path, "w").close()
    util.wait_until(lambda: users_of(emu, SHARE) == [], timeout=15,
                    what="the emptied list committed")
    with open(path, "w") as fh:
        fh.write("%s\n%s\n%s\n" % (ALICE, BOB, CAROL))
    assert users_of(emu, SHARE) == [ALICE, BOB, CAROL]
    assert sorted(read(path).splitlines()) == [ALICE, BOB, CAROL]


@pytest.mark.parametrize("mode", ["backupcopy=auto", "backupcopy=no",
                                  "backup"])
def test_vim_keeps_what_changed_since_it_read(emu, admin, upfs_mount,
                                               workdir, mode):
    """vim reads allowed_users; another admin adds dave, and this mount
    shows him, before vim saves erin (an open for writing emptied with
    ftruncate, after renaming the file away or not): the save adds erin
    and keeps dave. (With backupcopy=yes vim reads the file again to copy
    it just before saving, so the save starts from that read.)"""
    fresh = upfs_mount(emu, options=["dir_ttl=1", "status_ttl=1"])
    d, od = fresh.p("shares", SHARE), admin.p("shares", SHARE)
    path = os.path.join(d, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    ready = os.path.join(workdir, "vim-read")
    go = os.path.join(workdir, "vim-go")
    cmd = [VIM, "-u", "NONE", "-i", "NONE", "-N", "-es",
           "-c", "set directory=. swapfile backupskip= writebackup"]
    for setting in VIM_MODES[mode]:
        cmd += ["-c", setting]
    cmd += ["-c", "call writefile([], '%s')" % ready,
            "-c", "while !filereadable('%s') | sleep 20m | endwhile" % go,
            "-c", "$put ='%s'" % ERIN, "-c", "wq", "allowed_users"]
    vim = subprocess.Popen(cmd, cwd=d, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        util.wait_until(lambda: os.path.exists(ready) or
                        vim.poll() is not None,
                        timeout=15, what="vim to read allowed_users")
        util.run(["sh", "-c", "echo %s >> allowed_users" % DAVE], cwd=od)
        util.wait_until(lambda: DAVE in read(path), timeout=15,
                        what="the editing mount to see dave")
        emu.reset_writes()
        with open(go, "w"):
            pass
        out, err = vim.communicate(timeout=util.scaled(30))
    finally:
        if vim.poll() is None:
            vim.kill()
            vim.wait()
    assert vim.returncode == 0, "vim exited %d: %s%s" % (vim.returncode,
                                                        out, err)
    assert changes(emu, sid) == ["+user " + ERIN]
    assert users_of(emu, SHARE) == [ALICE, BOB, DAVE, ERIN]

# --- allowed_groups and allow_all_users --------------------------------------

def group_id(emu, name):
    found = [g["id"] for g in emu.state()["groups"]
             if g["displayName"] == name]
    assert len(found) == 1, found
    return found[0]


def test_echo_appends_a_group(emu, admin):
    d = admin.p("shares", GROUP_SHARE)
    sid = share_of(emu, GROUP_SHARE)["id"]
    assert read(os.path.join(d, "allowed_groups")) == "Marketing\nSales\n"
    util.run(["sh", "-c", "echo 'Lab Staff' >> allowed_groups"], cwd=d)
    assert changes(emu, sid) == ["+group Lab Staff"]
    assert groups_of(emu, GROUP_SHARE) == sorted(
        group_id(emu, n) for n in ("Lab Staff", "Marketing", "Sales"))
    assert read(os.path.join(d, "allowed_groups")) == \
        "Lab Staff\nMarketing\nSales\n"


def test_sed_i_removes_a_group(emu, admin):
    d = admin.p("shares", GROUP_SHARE)
    sid = share_of(emu, GROUP_SHARE)["id"]
    util.run(["sed", "-i", "/^Sales$/d", "allowed_groups"], cwd=d)
    assert changes(emu, sid) == ["-group Sales"]
    assert groups_of(emu, GROUP_SHARE) == [group_id(emu, "Marketing")]
    assert read(os.path.join(d, "allowed_groups")) == "Marketing\n"
    assert share_listing(admin, GROUP_SHARE) == FIXED
    assert_no_temp_writes(emu)


def test_group_by_id(emu, admin):
    d = admin.p("shares", LAB)
    sid = share_of(emu, LAB)["id"]
    util.run(["sh", "-c", "echo %s >> allowed_groups"
              % group_id(emu, "Sales")], cwd=d)
    assert changes(emu, sid) == ["+group Sales"]
    assert read(os.path.join(d, "allowed_groups")) == "Lab Staff\nSales\n"


@pytest.mark.parametrize("share,value", [(SHARE, True), ("Floor3", False)])
def test_allow_all_users(emu, admin, share, value):
    path = admin.p("shares", share, "allow_all_users")
    sid = share_of(emu, share)["id"]
    assert read(path) == ("false\n" if value else "true\n")
    # Reported by the assertion below, not again by the teardown.
    admin.expect_warning(r"allow_all_users of share '%s' refused: "
                         r"allow_all_users takes one line" % sid)
    util.run(["sh", "-c", "echo %s > '%s'" % (str(value).lower(), path)])
    assert_no_refusal(admin, "echo %s > allow_all_users" % value)
    assert changes(emu, sid) == ['patch {"allowAllUsers": %s}'
                                 % str(value).lower()]
    assert share_of(emu, share)["allowAllUsers"] is value
    assert read(path) == str(value).lower() + "\n"


def test_rewriting_allow_all_users_sends_nothing(emu, admin):
    """design §4: a commit applies only the difference; the same value
    again is no change."""
    path = admin.p("shares", SHARE, "allow_all_users")
    with open(path, "w") as fh:
        fh.write("false\n")
    assert_no_writes(emu, "an unchanged allow_all_users")
    assert read(path) == "false\n"


# --- refusals: nothing changes -----------------------------------------------

def test_unknown_user_is_refused(emu, admin):
    path = admin.p("shares", SHARE, "allowed_users")
    before = read(path)
    status = refused(admin, emu, SHARE, "allowed_users",
                     "unknown user 'nobody@contoso.com'")
    assert close_errno(path, "%s\nnobody@contoso.com\n" % CAROL) == \
        errno.EINVAL
    assert_no_writes(emu, "a list with an unknown user")
    assert users_of(emu, SHARE) == [ALICE, BOB]
    assert read(path) == before
    assert "nobody@contoso.com" in status()


def test_unknown_user_by_sed_fails_the_rename(emu, admin):
    d = admin.p("shares", SHARE)
    refused(admin, emu, SHARE, "allowed_users", "unknown user 'zed@")
    before = read(os.path.join(d, "allowed_users"))
    proc = util.run(["sed", "-i", "s/^bob@/zed@/", "allowed_users"], cwd=d,
                    check=False)
    assert proc.returncode != 0
    assert "Invalid argument" in proc.stderr, proc.stderr
    assert_no_writes(emu, "a sed -i with an unknown user")
    assert users_of(emu, SHARE) == [ALICE, BOB]
    assert read(os.path.join(d, "allowed_users")) == before


def test_unknown_group_is_refused(emu, admin):
    path = admin.p("shares", GROUP_SHARE, "allowed_groups")
    before = read(path)
    refused(admin, emu, GROUP_SHARE, "allowed_groups",
            "unknown group 'Nobody'")
    assert close_errno(path, "Nobody\n") == errno.EINVAL
    assert_no_writes(emu, "a list with an unknown group")
    assert read(path) == before


def test_ambiguous_group_names_the_candidates(emu, admin):
    sales = group_id(emu, "Sales")
    other = emu.add_group("Sales", members=[DAVE])["id"]
    path = admin.p("shares", LAB, "allowed_groups")
    before = read(path)
    status = refused(admin, emu, LAB, "allowed_groups",
                     "ambiguous group name 'Sales'")
    assert close_errno(path, "Sales\n") == errno.EINVAL
    assert_no_writes(emu, "a list with an ambiguous group name")
    assert groups_of(emu, LAB) == [group_id(emu, "Lab Staff")]
    assert read(path) == before
    last = status()
    assert sales in last and other in last, \
        "the error does not name both candidates: %s" % last
    line = [ln for ln in admin.log().splitlines()
            if "ambiguous" in ln]
    assert line and sales in line[0] and other in line[0], line


def test_two_groups_of_one_name_read_as_ids_and_go_one_at_a_time(emu, admin):
    """Two groups on a share with one display name read as their ids, so
    deleting a line removes that one group."""
    staff = group_id(emu, "Lab Staff")
    twin = emu.add_group("Lab Staff", members=[DAVE])["id"]
    d = admin.p("shares", LAB)
    path = os.path.join(d, "allowed_groups")
    assert read(path) == "Lab Staff\n"
    util.run(["sh", "-c", "echo %s >> allowed_groups" % twin], cwd=d)
    assert sorted(groups_of(emu, LAB)) == sorted([staff, twin])
    assert read(path).split() == sorted([staff, twin])
    util.run(["sed", "-i", "/^%s$/d" % twin, "allowed_groups"], cwd=d)
    assert groups_of(emu, LAB) == [staff]
    assert read(path) == "Lab Staff\n"


def test_a_dropped_line_from_a_stale_view(emu, admin, upfs_mount):
    """The lines an edit drops are matched to the list as the service
    holds it now. One another admin removed already is looked up and
    removes nothing more; a group name that two groups on the list share
    by now cannot say which one to remove: refused, nothing changed."""
    other = upfs_mount(emu)
    d, od = admin.p("shares", SHARE), other.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    assert read(os.path.join(od, "allowed_users")).split() == [ALICE, BOB]
    util.run(["sed", "-i", "/^alice@/d", "allowed_users"], cwd=d)
    emu.reset_writes()
    util.run(["sed", "-i", "/^alice@/d", "allowed_users"], cwd=od)
    assert changes(emu, sid) == []
    assert users_of(emu, SHARE) == [BOB]

    staff = group_id(emu, "Lab Staff")
    twin = emu.add_group("Lab Staff", members=[DAVE])["id"]
    lab, olab = admin.p("shares", LAB), other.p("shares", LAB)
    assert read(os.path.join(olab, "allowed_groups")) == "Lab Staff\n"
    util.run(["sh", "-c", "echo %s >> allowed_groups" % twin], cwd=lab)
    check = refused(other, emu, LAB, "allowed_groups",
                    "'Lab Staff' names 2 entries")
    emu.reset_writes()
    proc = util.run(["sed", "-i", "/^Lab Staff$/d", "allowed_groups"],
                    cwd=olab, check=False)
    assert proc.returncode != 0 and "Invalid argument" in proc.stderr, proc
    assert_no_writes(emu, "a dropped name two groups share")
    assert sorted(groups_of(emu, LAB)) == sorted([staff, twin])
    assert "'Lab Staff' names 2 entries" in check()


@pytest.mark.parametrize("text", ["yes\n", "true\nfalse\n", "TRUE\n", "\n",
                                  "1\n"])
def test_malformed_allow_all_users(emu, admin, text):
    path = admin.p("shares", SHARE, "allow_all_users")
    refused(admin, emu, SHARE, "allow_all_users", "true or false")
    assert close_errno(path, text, mode="w") == errno.EINVAL
    assert_no_writes(emu, "a malformed allow_all_users")
    assert share_of(emu, SHARE)["allowAllUsers"] is False
    assert read(path) == "false\n"


@pytest.mark.parametrize("file,text", [
    ("allowed_users", "%s\n%s\n%s\n" % (ALICE, BOB, CAROL)),
    ("allowed_groups", "Sales\n"),
    ("allow_all_users", "true\n"),
])
def test_non_admin_gets_eacces(emu, bob, file, text):
    """A token for a user who is not a Printer Administrator: 403 from the
    service, EACCES from close(), nothing changed."""
    path = bob.p("shares", SHARE, file)
    before = read(path)
    state_before = share_of(emu, SHARE)
    refused(bob, emu, SHARE, file, "")
    assert close_errno(path, text, mode="w") == errno.EACCES
    assert_no_writes(emu, "a non-admin's edit")
    assert share_of(emu, SHARE) == state_before
    assert read(path) == before


def test_revoked_admin_gets_eacces(emu, upfs_mount):
    """The role is checked on each write: revoking it makes the next
    commit fail."""
    emu.add_user("pat@contoso.com", printerAdmin=True)
    mount = upfs_mount(emu, token=emu.mint_token("pat@contoso.com"))
    d = mount.p("shares", SHARE)
    util.run(["sh", "-c", "echo %s >> allowed_users" % CAROL], cwd=d)
    assert users_of(emu, SHARE) == [ALICE, BOB, CAROL]
    emu.reset_writes()
    emu.patch_user("pat@contoso.com", printerAdmin=False)
    refused(mount, emu, SHARE, "allowed_users", "")
    assert close_errno(os.path.join(d, "allowed_users"), DAVE + "\n") == \
        errno.EACCES
    assert_no_writes(emu, "a revoked admin's edit")
    assert users_of(emu, SHARE) == [ALICE, BOB, CAROL]


# --- a failure part-way ------------------------------------------------------

def test_failure_after_first_ref_is_undone(emu, admin):
    """Three users added in one write; the second $ref gets a 500. The
    first is taken back, close() fails, the list is as before."""
    path = admin.p("shares", SHARE, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    before = read(path)
    emu.set_faults("500:1,route=/$ref$,after=1,times=1")
    status = refused(admin, emu, SHARE, "allowed_users",
                     "generalException")
    assert close_errno(path, "%s\n%s\n%s\n" % (CAROL, DAVE, ERIN)) == \
        errno.EIO
    log = changes(emu, sid)
    assert len(log) == 2 and log[0].startswith("+user ") and \
        log[1] == "-" + log[0][1:], "the applied add was not undone: %s" % log
    assert users_of(emu, SHARE) == [ALICE, BOB]
    assert read(path) == before
    assert "half-applied" not in admin.log()
    assert "generalException" in status()


def test_failure_of_the_undo_is_an_error(emu, admin):
    """When undoing fails too, the list is half-applied and an error line
    says so."""
    path = admin.p("shares", SHARE, "allowed_users")
    sid = share_of(emu, SHARE)["id"]
    emu.set_faults("500:1,route=/$ref$,after=1,times=5")
    refused(admin, emu, SHARE, "allowed_users", "")
    admin.expect_error(r"^upfs: error: allowedUsers of share '%s' is "
                       r"half-applied" % sid)
    assert close_errno(path, "%s\n%s\n%s\n" % (CAROL, DAVE, ERIN)) != 0
    emu.set_faults("")
    log = changes(emu, sid)
    assert len(log) == 1 and log[0].startswith("+user "), log
    assert "half-applied" in admin.log()
    # What the service has is what the file shows.
    assert read(path) == "".join(u + "\n" for u in users_of(emu, SHARE))


# --- editors' files ----------------------------------------------------------

def test_editor_files_stay_local(emu, admin):
    d = admin.p("shares", SHARE)
    for name in ("4913", ".allowed_users.swp", "allowed_users~", "sedAbc123",
                 "notes.txt"):
        p = os.path.join(d, name)
        with open(p, "w") as fh:
            fh.write("local %s\n" % name)
        assert read(p) == "local %s\n" % name
        assert name in os.listdir(d)
        os.unlink(p)
        assert name not in os.listdir(d)
    assert_no_writes(emu, "editors' files")
    assert share_listing(admin, SHARE) == FIXED


def test_editor_files_are_bounded(emu, admin):
    """Editors' files live in memory: at most 64 at once (all folders),
    then ENOSPC; one removed makes room. A mount shared with allow_other
    let any user fill its memory."""
    d = admin.p("shares", SHARE)
    names = ["scratch-%02d" % i for i in range(64)]
    for name in names:
        open(os.path.join(d, name), "w").close()
    util.expect_errno(lambda: open(os.path.join(d, "one-more"), "w"),
                      errno.ENOSPC)
    # The same name again replaces it, no room needed.
    open(os.path.join(d, names[0]), "w").close()
    os.unlink(os.path.join(d, names[1]))
    open(os.path.join(d, "one-more"), "w").close()
    for name in names[:1] + names[2:] + ["one-more"]:
        os.unlink(os.path.join(d, name))
    assert share_listing(admin, SHARE) == FIXED
    assert_no_writes(emu, "editors' files")


def test_share_files_cannot_be_removed(emu, admin):
    d = admin.p("shares", SHARE)
    for name in ("allowed_users", "allowed_groups", "allow_all_users",
                 "printer", "share.json"):
        util.expect_errno(lambda: os.unlink(os.path.join(d, name)),
                          errno.EPERM)
    proc = util.run(["rm", "-f", "allowed_users"], cwd=d, check=False)
    assert proc.returncode != 0
    assert_no_writes(emu, "rm of a share's files")
    assert share_listing(admin, SHARE) == FIXED
    assert users_of(emu, SHARE) == [ALICE, BOB]


# --- shares: create, rename, swap, delete ------------------------------------

def test_create_a_share(emu, admin):
    shares = admin.p("shares")
    os.mkdir(os.path.join(shares, "Annex"))
    assert "Annex" in os.listdir(shares)
    assert os.listdir(os.path.join(shares, "Annex")) == []
    assert_no_writes(emu, "mkdir of a pending share")
    os.symlink("../../printers/" + SPARE,
               os.path.join(shares, "Annex", "printer"))
    assert changes(emu) == ["create Annex on " + SPARE]
    share = share_of(emu, "Annex")
    spare = [p for p in emu.state(only=["printers"])["printers"]
             if p["displayName"] == SPARE][0]
    assert share["printerId"] == spare["id"]
    assert os.readlink(os.path.join(shares, "Annex", "printer")) == \
        "../../printers/" + SPARE
    assert share_listing(admin, "Annex") == FIXED
    assert util.xattr(os.path.join(shares, "Annex"), "id") == share["id"]


def test_rmdir_of_a_pending_share_sends_nothing(emu, admin):
    shares = admin.p("shares")
    os.mkdir(os.path.join(shares, "Annex"))
    os.rmdir(os.path.join(shares, "Annex"))
    assert "Annex" not in os.listdir(shares)
    assert_no_writes(emu, "a pending share")


def test_rename_of_a_pending_share_sends_nothing(emu, admin):
    """A share made by mkdir has no printer yet and nothing at the
    service: mv renames it in the mount (ENOENT before), and ln then makes
    it under its new name."""
    shares = admin.p("shares")
    os.mkdir(os.path.join(shares, "Annex"))
    os.rename(os.path.join(shares, "Annex"), os.path.join(shares, "Annex2"))
    names = os.listdir(shares)
    assert "Annex2" in names and "Annex" not in names
    assert_no_writes(emu, "a pending share renamed")
    admin.expect_warning(r"renaming the share refused: File exists")
    util.expect_errno(lambda: os.rename(os.path.join(shares, "Annex2"),
                                        os.path.join(shares, SHARE)),
                      errno.EEXIST)
    os.symlink("../../printers/" + SPARE,
               os.path.join(shares, "Annex2", "printer"))
    assert [s["displayName"] for s in emu.state(only=["shares"])["shares"]
            if s["displayName"].startswith("Annex")] == ["Annex2"]


def test_share_names_count_characters_not_bytes(emu, admin):
    """At most 50 characters (reference §3.4): 50 Greek letters (100
    bytes) make a pending share, 51 ASCII ones do not."""
    shares = admin.p("shares")
    greek = "\u03b1" * 50
    os.mkdir(os.path.join(shares, greek))
    assert greek in os.listdir(shares)
    os.rmdir(os.path.join(shares, greek))
    admin.expect_warning(r"mkdir")
    util.expect_errno(lambda: os.mkdir(os.path.join(shares, "x" * 51)),
                      errno.ENAMETOOLONG)
    assert_no_writes(emu, "mkdir of pending shares")
    # A rename to such a name: the same answer, nothing sent (the
    # service's 400 came back as EINVAL).
    admin.expect_warning(r"renaming the share")
    util.expect_errno(lambda: os.rename(os.path.join(shares, SHARE),
                                        os.path.join(shares, "y" * 51)),
                      errno.ENAMETOOLONG)
    assert_no_writes(emu, "a rename to a long name")


def test_a_name_the_folder_would_show_otherwise_is_refused(emu, admin):
    """A control character shows as its picture (design §2): a share or
    printer given a tab in its name could not be found by the name just
    given. mkdir and mv fail with EINVAL and say why; nothing is sent."""
    shares = admin.p("shares")
    admin.expect_warning(r"would show it as 'a\u2409b'")
    util.expect_errno(lambda: os.mkdir(os.path.join(shares, "a\tb")),
                      errno.EINVAL)
    util.expect_errno(lambda: os.rename(os.path.join(shares, SHARE),
                                        os.path.join(shares, "a\tb")),
                      errno.EINVAL)
    util.expect_errno(lambda: os.rename(admin.p("printers", SPARE),
                                        admin.p("printers", "a\tb")),
                      errno.EINVAL)
    assert "a\u2409b" in admin.status()["last_error"]
    assert "a\u2409b" not in os.listdir(shares)
    assert_no_writes(emu, "names the folder would show otherwise")


def test_mkdir_of_a_taken_name(emu, admin):
    shares = admin.p("shares")
    util.expect_errno(lambda: os.mkdir(os.path.join(shares, SHARE)),
                      errno.EEXIST)
    os.mkdir(os.path.join(shares, "Annex"))
    util.expect_errno(lambda: os.mkdir(os.path.join(shares, "Annex")),
                      errno.EEXIST)
    assert_no_writes(emu, "mkdir of a taken name")


def test_create_with_a_name_taken_on_the_service(emu, admin):
    """The service compares share names case-insensitively: 409 → EEXIST."""
    shares = admin.p("shares")
    os.mkdir(os.path.join(shares, SHARE.lower()))
    admin.expect_warning(r"creating the share refused: .*nameAlreadyExists")
    util.expect_errno(lambda: os.symlink(
        "../../printers/" + SPARE,
        os.path.join(shares, SHARE.lower(), "printer")), errno.EEXIST)
    assert_no_writes(emu, "a share with a taken name")


def test_ln_to_an_unknown_printer(emu, admin):
    shares = admin.p("shares")
    os.mkdir(os.path.join(shares, "Annex"))
    admin.expect_warning(r"creating the share refused")
    util.expect_errno(lambda: os.symlink(
        "../../printers/No Such Printer",
        os.path.join(shares, "Annex", "printer")), errno.ENOENT)
    assert_no_writes(emu, "a share of an unknown printer")
    assert [s for s in emu.state(only=["shares"])["shares"]
            if s["displayName"] == "Annex"] == []


def test_ln_to_a_shared_printer(emu, admin):
    """One share per printer: the service refuses, ln fails with EINVAL."""
    shares = admin.p("shares")
    os.mkdir(os.path.join(shares, "Annex"))
    admin.expect_warning(r"creating the share refused: .*already shared")
    util.expect_errno(lambda: os.symlink(
        "../../printers/Floor3 LaserJet",
        os.path.join(shares, "Annex", "printer")), errno.EINVAL)
    assert_no_writes(emu, "a second share of a printer")


def test_rename_a_share(emu, admin):
    shares = admin.p("shares")
    sid = share_of(emu, SHARE)["id"]
    util.run(["mv", "-T", os.path.join(shares, SHARE),
              os.path.join(shares, "Front Desk")])
    assert changes(emu, sid) == ['patch {"displayName": "Front Desk"}']
    assert share_of(emu, "Front Desk")["id"] == sid
    names = os.listdir(shares)
    assert "Front Desk" in names and SHARE not in names
    assert read(os.path.join(shares, "Front Desk", "allowed_users")) == \
        "%s\n%s\n" % (ALICE, BOB)


def test_a_printers_shares_folder_follows_its_shares_at_once(emu, admin):
    """printers/<p>/shares/ shows a share renamed, moved to another
    printer or deleted through the mount at once, not after the
    listing's time to live (a minute here)."""
    shares = admin.p("shares")
    printer = os.path.basename(os.readlink(os.path.join(shares, SHARE,
                                                        "printer")))
    on_printer = admin.p("printers", printer, "shares")
    on_spare = admin.p("printers", SPARE, "shares")
    assert os.listdir(on_printer) == [SHARE]
    assert os.listdir(on_spare) == []
    os.rename(os.path.join(shares, SHARE), os.path.join(shares, "Front"))
    assert os.listdir(on_printer) == ["Front"]
    util.run(["ln", "-sfn", "../../printers/" + SPARE, "printer"],
             cwd=os.path.join(shares, "Front"))
    assert os.listdir(on_printer) == []
    assert os.listdir(on_spare) == ["Front"]
    os.rmdir(os.path.join(shares, "Front"))
    assert os.listdir(on_spare) == []


def test_rename_onto_a_taken_name(emu, admin):
    shares = admin.p("shares")
    admin.expect_warning(r"renaming the share refused: File exists")
    util.expect_errno(lambda: os.rename(os.path.join(shares, SHARE),
                                        os.path.join(shares, "Floor3")),
                      errno.EEXIST)
    assert_no_writes(emu, "a rename onto a taken name")
    assert {SHARE, "Floor3"} <= set(os.listdir(shares))


def test_a_name_that_is_not_utf8_is_refused(emu, admin):
    """Names at the service are text: mkdir or mv to a name that is not
    UTF-8 is EINVAL with the reason, and nothing is sent (it was ENOMEM,
    "Cannot allocate memory")."""
    admin.expect_warning(r"not UTF-8")
    shares = os.fsencode(admin.p("shares"))
    bad = b"Caf\xe9"
    util.expect_errno(lambda: os.mkdir(os.path.join(shares, bad)),
                      errno.EINVAL)
    util.expect_errno(lambda: os.rename(
        os.path.join(shares, os.fsencode(SHARE)), os.path.join(shares, bad)),
        errno.EINVAL)
    printers = os.fsencode(admin.p("printers"))
    util.expect_errno(lambda: os.rename(
        os.path.join(printers, os.fsencode(SPARE)),
        os.path.join(printers, bad)), errno.EINVAL)
    assert "not UTF-8" in admin.status()["last_error"]
    assert_no_writes(emu, "names that are not UTF-8")


def test_swap_the_printer(emu, admin):
    d = admin.p("shares", SHARE)
    sid = share_of(emu, SHARE)["id"]
    util.run(["ln", "-sfn", "../../printers/" + SPARE, "printer"], cwd=d)
    assert changes(emu, sid) == ['patch {"printer": "%s"}' % SPARE]
    spare = [p for p in emu.state(only=["printers"])["printers"]
             if p["displayName"] == SPARE][0]
    share = share_of(emu, SHARE)
    assert share["id"] == sid and share["printerId"] == spare["id"]
    assert os.readlink(os.path.join(d, "printer")) == \
        "../../printers/" + SPARE
    assert share_listing(admin, SHARE) == FIXED, "ln's temporary link was " \
        "left behind"
    assert users_of(emu, SHARE) == [ALICE, BOB]


def test_swap_to_a_shared_printer_is_refused(emu, admin):
    d = admin.p("shares", SHARE)
    before = os.readlink(os.path.join(d, "printer"))
    pid = share_of(emu, SHARE)["printerId"]
    admin.expect_warning(r"swapping the share's printer refused: .*already "
                         r"shared")
    proc = util.run(["ln", "-sfn", "../../printers/Floor3 LaserJet",
                     "printer"], cwd=d, check=False)
    assert proc.returncode != 0
    assert "Invalid argument" in proc.stderr, proc.stderr
    assert_no_writes(emu, "a swap to a shared printer")
    assert share_of(emu, SHARE)["printerId"] == pid
    assert os.readlink(os.path.join(d, "printer")) == before
    assert share_listing(admin, SHARE) == FIXED


def test_swap_to_an_unknown_printer(emu, admin):
    d = admin.p("shares", SHARE)
    before = os.readlink(os.path.join(d, "printer"))
    admin.expect_warning(r"swapping the share's printer refused")
    proc = util.run(["ln", "-sfn", "../../printers/Nope", "printer"], cwd=d,
                    check=False)
    assert proc.returncode != 0
    assert "No such file" in proc.stderr, proc.stderr
    assert_no_writes(emu, "a swap to an unknown printer")
    assert os.readlink(os.path.join(d, "printer")) == before
    assert share_listing(admin, SHARE) == FIXED


def test_delete_a_share(emu, admin):
    shares = admin.p("shares")
    share = share_of(emu, SHARE)
    util.run(["rmdir", os.path.join(shares, SHARE)])
    assert changes(emu, share["id"]) == ["delete"]
    assert SHARE not in os.listdir(shares)
    st = emu.state(only=["shares", "printers"])
    assert share["id"] not in [s["id"] for s in st["shares"]]
    assert share["printerId"] in [p["id"] for p in st["printers"]]
    util.expect_errno(lambda: os.rmdir(os.path.join(shares, SHARE)),
                      errno.ENOENT)


def test_whole_life_of_a_share(emu, admin):
    """mkdir, ln, edit, mv, ln -sfn, rmdir, in that order, as a person would;
    the printer goes back to being unshared."""
    shares = admin.p("shares")
    printers = emu.state(only=["printers"])["printers"]
    unshared = [p for p in printers
                if not p["shareIds"] and p["displayName"] != SPARE][0]
    folder = util.expected_names(printers)[unshared["id"]]
    os.mkdir(os.path.join(shares, "Temp"))
    os.symlink("../../printers/" + SPARE,
               os.path.join(shares, "Temp", "printer"))
    sid = share_of(emu, "Temp")["id"]
    util.run(["sh", "-c", "echo %s > allowed_users" % ERIN],
             cwd=os.path.join(shares, "Temp"))
    os.rename(os.path.join(shares, "Temp"), os.path.join(shares, "Kept"))
    util.run(["ln", "-sfn", "../../printers/" + folder, "printer"],
             cwd=os.path.join(shares, "Kept"))
    os.rmdir(os.path.join(shares, "Kept"))
    assert changes(emu, sid) == [
        "create Temp on " + SPARE, "+user " + ERIN,
        'patch {"displayName": "Kept"}',
        'patch {"printer": "%s"}' % unshared["displayName"], "delete"]
    assert sorted(os.listdir(shares)) == sorted(
        s["displayName"] for s in emu.state(only=["shares"])["shares"])


@pytest.mark.parametrize("what", ["mkdir+ln", "mv", "ln -sfn", "rmdir"])
def test_non_admin_cannot_manage_shares(emu, bob, what):
    shares = bob.p("shares")
    bob.expect_warning(r"refused: .*(403|accessDenied|Printer "
                       r"Administrator)")
    sid = share_of(emu, SHARE)["id"]
    if what == "mkdir+ln":
        os.mkdir(os.path.join(shares, "Annex"))
        util.expect_errno(lambda: os.symlink(
            "../../printers/" + SPARE,
            os.path.join(shares, "Annex", "printer")), errno.EACCES)
    elif what == "mv":
        util.expect_errno(lambda: os.rename(
            os.path.join(shares, SHARE), os.path.join(shares, "Front Desk")),
            errno.EACCES)
    elif what == "ln -sfn":
        proc = util.run(["ln", "-sfn", "../../printers/" + SPARE,
                         "printer"], cwd=os.path.join(shares, SHARE),
                        check=False)
        assert proc.returncode != 0
        assert "Permission denied" in proc.stderr, proc.stderr
    else:
        util.expect_errno(lambda: os.rmdir(os.path.join(shares, SHARE)),
                          errno.EACCES)
    assert_no_writes(emu, "a non-admin's " + what)
    assert share_of(emu, SHARE)["id"] == sid


# --- what a non-admin sees ---------------------------------------------------

def test_non_admin_sees_permission_files_read_only(emu, bob, admin):
    d = bob.p("shares", SHARE)
    for name in ("allowed_users", "allowed_groups", "allow_all_users"):
        mode = os.stat(os.path.join(d, name)).st_mode & 0o777
        assert mode == 0o444, "%s is %o for bob" % (name, mode)
        mode = os.stat(os.path.join(admin.p("shares", SHARE), name)
                       ).st_mode & 0o777
        assert mode == 0o644, "%s is %o for the admin" % (name, mode)
    # The share's options are this mount's own: bob may keep his.
    assert os.stat(os.path.join(d, "options")).st_mode & 0o777 == 0o644


# --- a share request meets a fault -------------------------------------------
#
# Each one-request change of a share meets a fault (twice, if it is sent
# twice). The call returns 0 exactly when the service holds the change,
# else a clean errno with the service as it was: a lost reply (drop,
# truncated, malformed) or a 5xx may hide a change made, which upfs reads
# back before it says the call failed (a retry would meet a refusal).

def spare_id(emu):
    return [p for p in emu.state(only=["printers"])["printers"]
            if p["displayName"] == SPARE][0]["id"]


def shares_named(emu, name):
    return [s for s in emu.state(only=["shares"])["shares"]
            if s["displayName"] == name]


def swap_printer(admin):
    """ln -sfn's errno, read from what it says (-1: none recognised)."""
    proc = util.run(["ln", "-sfn", "../../printers/" + SPARE, "printer"],
                    cwd=admin.p("shares", SHARE), check=False)
    if proc.returncode == 0:
        return 0
    return next((e for e in errno.errorcode
                 if os.strerror(e) in proc.stderr), -1)


def share_op(op, emu, admin):
    """(fault route, the call, whether the service holds its change, what
    the mount shows once it agrees)."""
    shares = admin.p("shares")
    sid = share_of(emu, SHARE)["id"]
    if op == "create":
        os.mkdir(os.path.join(shares, "Annex"))
        return ("method=POST,route=/print/shares$",
                lambda: util.call_errno(lambda: os.symlink(
                    "../../printers/" + SPARE,
                    os.path.join(shares, "Annex", "printer"))),
                lambda: [s["printerId"] for s in shares_named(emu, "Annex")]
                == [spare_id(emu)],
                lambda done: os.path.islink(os.path.join(
                    shares, "Annex", "printer")) == done)
    if op == "rename":
        return ("method=PATCH,route=/print/shares/",
                lambda: util.call_errno(lambda: os.rename(
                    os.path.join(shares, SHARE),
                    os.path.join(shares, "Front Desk"))),
                lambda: [s["id"] for s in shares_named(emu, "Front Desk")]
                == [sid],
                lambda done: ("Front Desk" in os.listdir(shares)) == done
                and (SHARE in os.listdir(shares)) != done)
    if op == "swap":
        return ("method=PATCH,route=/print/shares/",
                lambda: swap_printer(admin),
                lambda: share_of(emu, SHARE)["printerId"] == spare_id(emu),
                lambda done: (os.readlink(os.path.join(
                    shares, SHARE, "printer")) == "../../printers/" + SPARE)
                == done)
    if op == "delete":
        return ("method=DELETE,route=/print/shares/",
                lambda: util.call_errno(lambda: os.rmdir(
                    os.path.join(shares, SHARE))),
                lambda: shares_named(emu, SHARE) == [],
                lambda done: (SHARE in os.listdir(shares)) != done)
    assert op == "allow_all_users"
    path = os.path.join(shares, SHARE, "allow_all_users")
    return ("method=PATCH,route=/print/shares/",
            lambda: close_errno(path, "true\n", "w"),
            lambda: share_of(emu, SHARE)["allowAllUsers"] is True,
            lambda done: read(path) == ("true\n" if done else "false\n"))


@pytest.mark.parametrize("change", ["allowed_users", "allowed_groups",
                                    "allow_all_users", "mv", "swap"])
def test_a_change_to_a_share_deleted_at_the_service_is_enoent(emu, admin,
                                                              change):
    """The share is deleted at the service while the mount still lists it:
    a change to it fails with ENOENT (the service's 404), nothing is
    written, and the share then leaves shares/."""
    share = share_of(emu, "Floor3")
    folder = admin.p("shares", "Floor3")
    assert "allowed_users" in os.listdir(folder)
    admin.expect_warning(r"404|No such file")
    emu.call("DELETE", "/_emulator/shares/" + share["id"])
    emu.reset_writes()
    if change == "mv":
        rc = util.call_errno(lambda: os.rename(
            folder, admin.p("shares", "Floor3b")))
    elif change == "swap":
        ln = subprocess.run(["ln", "-sfn", "../../printers/" + SPARE,
                             os.path.join(folder, "printer")],
                            capture_output=True, text=True)
        rc = errno.ENOENT if ln.returncode and \
            "No such file or directory" in ln.stderr else ln.returncode
    else:
        text = {"allowed_users": "bob@contoso.com\n",
                "allowed_groups": "Lab Staff\n",
                "allow_all_users": "true\n"}[change]
        rc = util.close_errno(os.path.join(folder, change), text, "w")
    assert rc == errno.ENOENT, errno.errorcode.get(rc, rc)
    assert_no_writes(emu, "a change to a deleted share")
    util.wait_until(lambda: "Floor3" not in os.listdir(admin.p("shares")),
                    timeout=10, what="the deleted share to leave shares/")


SHARE_OPS = ["create", "rename", "swap", "delete", "allow_all_users"]


@pytest.mark.parametrize("op", SHARE_OPS)
def test_a_share_request_the_service_refuses_is_eacces(emu, admin, op):
    """A 403 (the role lost meanwhile): EACCES, nothing changed, and the
    reason in .upfs/status."""
    admin.expect_warning(r".")
    util.check_refusal(emu, admin, op, share_op(op, emu, admin))


@pytest.mark.parametrize("op", SHARE_OPS)
@util.with_one_request_faults
def test_a_share_request_meets_a_fault(emu, admin, op, fault):
    admin.expect_warning(r".")
    route, call, held, shown = share_op(op, emu, admin)
    rc = util.check_change_under_fault(emu, admin, "%s,%s,times=2"
                                       % (fault, route), op, call, held,
                                       shown)
    if op == "create" and rc:
        # The name is still the pending share's: ln again makes one share.
        assert call() == 0
        assert len(shares_named(emu, "Annex")) == 1


def test_a_share_shows_a_non_admin_only_their_own_jobs(emu, admin, bob):
    """The service lists a share's jobs of other users only to a Printer
    Administrator (the share's jobs list page): bob's jobs/ and queue/
    hold his own, an administrator's every one."""
    sid = share_of(emu, "Floor3")["id"]
    jobs = emu.jobs(shareId=sid)
    mine = sorted(j["id"] for j in jobs if j["createdBy"] == BOB)
    assert mine and len(mine) < len(jobs)
    assert sorted(os.listdir(bob.p("shares", "Floor3", "jobs"))) == mine
    assert sorted(os.listdir(admin.p("shares", "Floor3", "jobs"))) == \
        sorted(j["id"] for j in jobs)
    theirs = {j["documentName"] for j in jobs if j["createdBy"] != BOB} - \
        {j["documentName"] for j in jobs if j["createdBy"] == BOB}
    queue = os.listdir(bob.p("shares", "Floor3", "queue"))
    assert theirs and not theirs.intersection(queue)
