"""Concurrency soak (issue 10): 4 writers print 50 documents each into
queue/ while 2 readers walk the tree with `ls -lR` the whole time. No
errors anywhere, and every one of the 200 documents is printed exactly
once, byte for byte. UPFS_SOAK_SECONDS sets how long the readers go on at
least (default 20; the long run of tools/check uses 60)."""

import os
import subprocess
import threading
import time

from test_print import job_ids, make_pdf, sha256

import util

SHARE = "Floor3"
WRITERS = 4
DOCS = 50
SOAK_SECONDS = float(os.environ.get("UPFS_SOAK_SECONDS", "20"))


def test_writers_and_readers_at_once(start_emulator, upfs_mount, workdir):
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    share = emu.share_by_name(SHARE)
    mount = upfs_mount(emu, options=["dir_ttl=1", "status_ttl=1"])
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    docs = {}
    for w in range(WRITERS):
        for i in range(DOCS):
            name = "soak-%d-%02d.pdf" % (w, i)
            docs[name] = make_pdf(name, 8 * 1024 + 97 * i + w)
    errors = []
    done = threading.Event()

    def writer(w):
        for i in range(DOCS):
            name = "soak-%d-%02d.pdf" % (w, i)
            try:
                with open(os.path.join(queue, name), "wb") as fh:
                    fh.write(docs[name])
            except OSError as exc:
                errors.append("write %s: %s" % (name, exc))

    def reader(r):
        walks = 0
        deadline = time.monotonic() + SOAK_SECONDS
        while not done.is_set() or time.monotonic() < deadline:
            proc = subprocess.run(["ls", "-lR", mount.p("shares"),
                                   mount.p("printers")],
                                  capture_output=True, text=True,
                                  errors="replace")
            # A job finishing between readdir and stat is fine for ls
            # ("No such file"): it went away. Anything else is not.
            bad = [ln for ln in proc.stderr.splitlines()
                   if "No such file or directory" not in ln]
            if bad:
                errors.append("reader %d: %s" % (r, bad[:3]))
            walks += 1
        if walks < 2:
            errors.append("reader %d walked only %d times" % (r, walks))

    writers = [threading.Thread(target=writer, args=(w,))
               for w in range(WRITERS)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(util.scaled(600))
    done.set()
    for t in readers:
        t.join(util.scaled(SOAK_SECONDS + 120))
    assert not any(t.is_alive() for t in writers + readers), "a thread hung"
    assert errors == [], errors[:10]

    new = [j for j in emu.jobs(shareId=share["id"]) if j["id"] not in before]
    by_name = {}
    for j in new:
        by_name.setdefault(j["documentName"], []).append(j)
    assert sorted(by_name) == sorted(docs), "missing or extra documents"
    twice = {n: len(js) for n, js in by_name.items() if len(js) != 1}
    assert twice == {}, "printed more than once: %s" % twice
    for name, (job,) in by_name.items():
        assert job["sha256"] == sha256(docs[name]), name
