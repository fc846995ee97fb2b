"""A hostile or broken service cannot hang or exhaust upfs (issue 10):
collections whose nextLink never ends, a JSON body that never ends, an
HTML page instead of JSON. Each listing fails with an errno in bounded
time, the daemon's memory stays bounded, the mount keeps answering, and
once the service behaves again the same listing works."""

import errno
import os
import re

import pytest

import util

# A JSON body is capped at 64 MiB (graph/buf.h); the rest of the daemon
# is far smaller. More than this means something grew without bound.
MAX_RSS_KIB = 256 * 1024


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    pytest.fail("no VmHWM for pid %d" % pid)


@pytest.mark.parametrize("kind,why", [
    ("loop", r"long run of empty pages"),
    ("flood", r"response body is larger than the limit"),
    ("html", r"response is not JSON"),
])
def test_hostile_listing_fails_cleanly(emulator, upfs_mount, kind, why):
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    emulator.set_faults("%s:1,route=/print/connectors" % kind)
    mount.expect_warning(r"/print/connectors.*%s" % why)
    util.expect_errno(lambda: os.listdir(mount.p("connectors")), errno.EIO,
                      errno.EPROTO, errno.EFBIG, errno.EBADMSG,
                      errno.ENOTCONN)
    said = [ln for ln in mount.log().splitlines()
            if "/print/connectors" in ln and re.search(why, ln)]
    assert said, mount.log()[-2000:]
    # Still answering, and not grown without bound.
    assert mount.status()["state"] in ("online", "offline")
    assert "Floor3" in os.listdir(mount.p("shares"))
    assert peak_rss_kib(mount.proc.pid) < MAX_RSS_KIB
    # The service behaves again: the same folder lists.
    emulator.set_faults("")
    util.wait_until(lambda: sorted(os.listdir(mount.p("connectors"))) ==
                    ["CONN-BERLIN", "CONN-BLDG1"], timeout=15,
                    what="the connectors once the service behaves")
