"""Who gets in, and what leaks (issue 10, security): TLS is always
verified (an emulator with a self-signed certificate is refused without
its CA and accepted with ca_file); a token file others can read is
refused; no token or Authorization header reaches the log even at debug
level; without allow_other another uid cannot enter the mount."""

import errno
import os
import struct

import pytest

import util


def run_upfs(emu, workdir, *opts):
    """upfs in the foreground as a command, for a mount that must not
    come up: (exit code, stderr)."""
    mnt = os.path.join(workdir, "mnt-refused")
    os.makedirs(mnt, exist_ok=True)
    token = os.path.join(workdir, "refused.token")
    with open(token, "w") as fh:
        fh.write(emu.mint_token() + "\n")
    os.chmod(token, 0o600)
    cmd = [util.upfs_binary(), mnt, "-f", "-o", ",".join(
        ["endpoint=" + emu.endpoint, "token_file=" + token,
         "cache_dir=" + os.path.join(workdir, "cache-refused")] +
        list(opts))]
    proc = util.run(cmd, check=False, timeout=60)
    assert not util.in_mount_table(mnt)
    return proc.returncode, proc.stderr


def test_tls_is_verified(start_emulator, upfs_mount, workdir):
    emu = start_emulator(tls=True)
    assert emu.base.startswith("https://")
    rc, err = run_upfs(emu, workdir)
    assert rc == 1
    assert "TLS certificate is not trusted" in err and "ca_file" in err, err
    # Trusting the emulator's certificate: a working mount over HTTPS.
    mount = upfs_mount(emu, options=["ca_file=" + emu.ca_file])
    assert "Floor3" in os.listdir(mount.p("shares"))
    assert emu.requests()["tlsHandshakes"] >= 1


def test_token_file_readable_by_others_is_refused(emulator, workdir):
    mnt = os.path.join(workdir, "mnt-open")
    os.makedirs(mnt)
    token = os.path.join(workdir, "open.token")
    with open(token, "w") as fh:
        fh.write(emulator.mint_token() + "\n")
    os.chmod(token, 0o644)
    proc = util.run([util.upfs_binary(), mnt, "-f", "-o",
                     "endpoint=%s,token_file=%s,cache_dir=%s"
                     % (emulator.endpoint, token,
                        os.path.join(workdir, "cache-open"))],
                    check=False, timeout=60)
    assert proc.returncode == 1
    assert "is accessible by others (mode 0644): chmod 600 it" in \
        proc.stderr, proc.stderr
    assert not util.in_mount_table(mnt)


def test_no_token_in_the_debug_log(emulator, upfs_mount, workdir):
    token = emulator.mint_token()
    mount = upfs_mount(emulator, token=token, debug=True)
    os.listdir(mount.p("printers"))
    util.read_text(mount.p("shares", "Floor3", "share.json"))
    src = os.path.join(workdir, "doc.pdf")
    with open(src, "wb") as fh:
        fh.write(b"%PDF-1.7\n" + os.urandom(300 * 1024))
    util.run(["cp", src, mount.p("shares", "Floor3", "queue", "doc.pdf")])
    util.read_text(mount.p(".upfs", "status"))
    mount.unmount()
    log = mount.log()
    assert len(log) > 1000, "the debug log is suspiciously short"
    assert token not in log
    assert token[:24] not in log
    assert "authorization:" not in log.lower()
    assert "Bearer " not in log
    assert "tempauthtoken=" not in log, "an upload URL's credential leaked"


def as_nobody(fn):
    """fn() in a child as uid/gid 65534: 0, or the errno it raised."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                fn()
                code = 0
            except OSError as exc:
                code = exc.errno
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")
def test_other_users_are_kept_out(emulator, upfs_mount):
    mount = upfs_mount(emulator)
    assert as_nobody(lambda: os.listdir(mount.p("shares"))) == \
        errno.EACCES, "nobody could list the mount"
    # As the owner, of course, it works.
    assert os.listdir(mount.p("shares"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")
def test_a_shared_mount_keeps_documents_to_its_owner(emulator, upfs_mount,
                                                     workdir):
    """allow_other with default_permissions (upfs(1)'s fstab line): other
    users may list jobs and read their job.json, not the bytes printed,
    nor a document in queue/ (they were 0444 and 0644)."""
    os.chmod(workdir, 0o755)        # the mount's folder is in it
    mount = upfs_mount(emulator, options=["allow_other",
                                          "default_permissions"])
    jobs = mount.p("shares", "Floor3", "jobs")
    with_docs = [j for j in os.listdir(jobs)
                 if os.listdir(os.path.join(jobs, j, "documents"))]
    assert with_docs, "the demo tenant's Floor3 has jobs with documents"
    docs = os.path.join(jobs, with_docs[0], "documents")
    doc = os.path.join(docs, os.listdir(docs)[0])
    src = os.path.join(workdir, "mine.pdf")
    with open(src, "wb") as fh:
        fh.write(b"%PDF-1.4\n" + os.urandom(4096))
    queued = mount.p("shares", "Floor3", "queue", "mine.pdf")
    with open(src, "rb") as fh, open(queued, "wb") as out:
        out.write(fh.read())
    assert as_nobody(lambda: os.listdir(jobs)) == 0
    assert as_nobody(lambda: open(os.path.join(
        jobs, with_docs[0], "job.json")).close()) == 0
    for path in (doc, queued):
        assert as_nobody(lambda: open(path, "rb").close()) == \
            errno.EACCES, path
    # The owner reads both.
    with open(doc, "rb") as fh:
        assert fh.read(1)
    with open(queued, "rb") as fh:
        assert fh.read(5) == b"%PDF-"


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775])
def test_a_cache_dir_others_may_write_to_is_refused(emulator, upfs_mount,
                                                    workdir, mode):
    """The cache and spool feed what the mount shows and prints under its
    sign-in: a cache_dir another user may write to (a shared folder) is
    refused before anything in it is opened."""
    cache = os.path.join(workdir, "shared-cache")
    os.mkdir(cache)
    os.chmod(cache, mode)
    m = util.Mount(emulator, workdir, cache_dir=cache)
    try:
        with pytest.raises(BaseException) as failed:
            m.start()
        assert "no one else's to write" in str(failed.value), failed.value
        assert os.listdir(cache) == []
    finally:
        m.kill_quietly()



def acl_letting_nobody_write():
    """A system.posix_acl_access value: the owner and uid 65534 rwx, the
    group and others r-x (its mask rwx, so the mode shows 0775)."""
    undefined = 0xFFFFFFFF
    entries = [(0x01, 7, undefined), (0x02, 7, 65534), (0x04, 5, undefined),
               (0x10, 7, undefined), (0x20, 5, undefined)]
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, uid) for tag, perm, uid in entries)


@pytest.mark.skipif(os.geteuid() != 0, reason="changes owners")
@pytest.mark.parametrize("parent_mode,owner,group,acl,taken", [
    (0o777, None, None, False, False),  # others may rename the cache away
    (0o775, None, 65534, False, False),  # a group shared with others
    (0o775, None, None, False, True),   # the user's private group (root's)
    (0o775, None, None, True, False),   # ... but an ACL lets another write
    (0o755, 65534, None, False, False),  # another user's folder
    (0o1777, None, None, False, True),  # sticky, as /tmp: others cannot
    (0o700, None, None, False, True),
])
def test_a_cache_dir_inside_a_folder_others_control_is_refused(
        emulator, workdir, parent_mode, owner, group, acl, taken):
    """A folder above cache_dir that another user owns, or others may
    write to without the sticky bit, lets them swap the cache for a
    folder of theirs: refused before the cache is opened, whatever
    cache_dir's own mode. Group write is the user's own where the group
    is the user's private one (umask 002 makes ~/.cache 0775 there) and
    no ACL gives it to another user (the group bits are then its mask)."""
    workdir = os.path.realpath(workdir)
    parent = os.path.join(workdir, "above")
    cache = os.path.join(parent, "mid", "cache")
    os.makedirs(cache, mode=0o700)
    os.chmod(os.path.join(parent, "mid"), 0o700)
    os.chmod(parent, parent_mode)
    os.chown(parent, owner if owner is not None else 0,
             group if group is not None else 0)
    if acl:
        try:
            os.setxattr(parent, "system.posix_acl_access",
                        acl_letting_nobody_write())
        except OSError as exc:
            pytest.skip("no POSIX ACLs here: %s" % exc)
        assert os.stat(parent).st_mode & 0o7777 == parent_mode
    m = util.Mount(emulator, workdir, cache_dir=cache)
    try:
        if taken:
            m.start()
            assert "Floor3" in os.listdir(m.p("shares"))
        else:
            with pytest.raises(BaseException) as failed:
                m.start()
            assert "cache_dir '%s' is inside '%s'" % (cache, parent) in \
                str(failed.value), failed.value
            assert os.listdir(cache) == []
    finally:
        if taken:
            m.unmount()
        m.kill_quietly()


def test_a_cache_dir_made_by_the_mount_is_checked_once_made(emulator,
                                                            workdir):
    """A cache_dir that does not exist yet is made by the mount, then
    checked like one that did: inside a folder anyone may write to, it
    is refused once made, and nothing is cached or spooled in it."""
    workdir = os.path.realpath(workdir)
    parent = os.path.join(workdir, "open-above")
    os.mkdir(parent)
    os.chmod(parent, 0o777)
    cache = os.path.join(parent, "cache")
    m = util.Mount(emulator, workdir, cache_dir=cache)
    try:
        with pytest.raises(BaseException) as failed:
            m.start()
        assert "cache_dir '%s' is inside '%s'" % (cache, parent) in \
            str(failed.value), failed.value
        assert not os.path.exists(os.path.join(cache, "spool"))
    finally:
        m.kill_quietly()


def test_a_cache_dir_reached_through_a_link_is_used_by_its_own_path(
        emulator, workdir):
    """cache_dir given through a symbolic link in a folder anyone may
    write to: the folder it names is checked and used from then on, so
    changing the link later leads nothing elsewhere. A document printed
    after the link was turned to another folder goes through the
    checked spool; the other folder gets nothing."""
    workdir = os.path.realpath(workdir)
    real = os.path.join(workdir, "private", "cache")
    os.makedirs(real, mode=0o700)
    os.chmod(os.path.dirname(real), 0o700)
    open_dir = os.path.join(workdir, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    link = os.path.join(open_dir, "me")
    os.symlink(os.path.dirname(real), link)
    other = os.path.join(workdir, "theirs")
    os.makedirs(os.path.join(other, "cache", "spool"), mode=0o700)
    m = util.Mount(emulator, workdir, cache_dir=os.path.join(link, "cache"))
    try:
        m.start()
        assert os.path.isdir(os.path.join(real, "spool"))
        os.unlink(link)
        os.symlink(other, link)
        share = emulator.share_by_name("Floor3")
        before = {j["id"] for j in emulator.jobs(shareId=share["id"])}
        with open(m.p("shares", "Floor3", "queue", "linked.pdf"),
                  "wb") as fh:
            fh.write(b"%PDF-1.4\n%linked\n%%EOF\n")
        util.wait_until(lambda: [j for j in emulator.jobs(
            shareId=share["id"]) if j["id"] not in before], timeout=10,
            what="the job")
        assert os.listdir(os.path.join(other, "cache", "spool")) == []
        assert os.listdir(os.path.join(other, "cache")) == ["spool"]
        m.unmount()
    finally:
        m.kill_quietly()
