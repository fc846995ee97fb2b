"""The fault matrix of printing (issue 10): every fault the emulator can
inject, at every step of a print — creating the job, opening the upload
session, each range PUT, starting the job — twice, then the service
behaves. Each case must end either with close() returning 0 and the
document printed exactly once, byte for byte, or with a clean errno and
the reason in .upfs/status; never a duplicate job, a job left waiting for
its document, or an open upload session."""

import os

import pytest

from test_print import make_pdf, pending_entries, job_ids
from test_print_failures import check_exactly_once

import util

SHARE = "Floor3"
PHASES = {
    "create": "method=POST,route=/jobs$",
    "session": "route=createUploadSession",
    "put": "method=PUT,route=/uploadSessions/",
    "start": "route=/start$",
}
FAULTS = ["429:1", "500:1", "503:1", "504:1", "reset:1", "drop:1",
          "html:1"]
# Only upload URLs can expire; only JSON replies can be HTML.
CASES = [(f, p) for p in PHASES for f in FAULTS
         if not (f == "html:1" and p == "put")] + [("expire:1", "put")]


@pytest.mark.parametrize("fault,phase", CASES,
                         ids=["%s-%s" % (f.split(":")[0], p)
                              for f, p in CASES])
def test_fault_at_each_step(start_emulator, upfs_mount, workdir, fault,
                            phase):
    emu = start_emulator(extra_args=["--job-seconds", "0.5"])
    mount = upfs_mount(emu)
    mount.expect_warning(r".")      # each case logs what went wrong
    share = emu.share_by_name(SHARE)
    queue = mount.p("shares", SHARE, "queue")
    before = job_ids(emu, share["id"])
    name = "matrix-%s-%s.pdf" % (fault.split(":")[0], phase)
    data = make_pdf(name, 9 * 1024 * 1024 + 123)    # three range PUTs
    emu.set_faults("%s,%s,times=2" % (fault, PHASES[phase]))
    rc = 0
    try:
        with open(os.path.join(queue, name), "wb") as fh:
            fh.write(data)
    except OSError as exc:
        rc = exc.errno
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the document to finish or be refused")
    emu.set_faults("")
    if rc == 0:
        check_exactly_once(emu, mount, share["id"], before, {name: data})
    else:
        assert mount.status()["last_error"] not in ("", "none")
        check_exactly_once(emu, mount, share["id"], before, {name: data},
                           required=set())
