"""Microsoft's JavaScript Graph client (@microsoft/microsoft-graph-client,
pinned in tests/graphjs) against the emulator over https: paging, error
bodies, retries after 429/503/504, upload sessions (ranges, resume,
cancel) and document downloads, as a client no one here wrote reads
them. tests/graphjs/drive.js runs one scenario and prints what the
client got; these tests check it against the emulator's own state.

tests/graphjs/install (which tools/check runs) installs Node.js if it is
missing and the client (npm ci in tests/graphjs)."""

import calendar
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import time

import pytest

import util

GRAPHJS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "graphjs")
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PAGE = 3                        # every collection below spans pages


@pytest.fixture
def emu(start_emulator):
    if not shutil.which("node") or not os.path.isdir(os.path.join(
            GRAPHJS, "node_modules", "@microsoft",
            "microsoft-graph-client")):
        pytest.fail("Node.js or the Graph client is missing: run "
                    "tests/graphjs/install")
    version = subprocess.run(["node", "-p", "process.versions.node"],
                             capture_output=True, text=True).stdout.strip()
    if not re.match(r"\d+\.", version) or int(version.split(".")[0]) < 18:
        pytest.fail("Node.js %r is not 18 or later, which the client "
                    "needs (fetch)" % version)
    return start_emulator(tls=True, page_size=PAGE)


def drive(emu, scenario, token=None, **args):
    """What the client got in one scenario (drive.js's JSON line)."""
    args.update(base=emu.base, apiHost="127.0.0.1",
                token=token or emu.mint_token())
    # TZ: the client reads innerError.date, which has no zone (nor has
    # the service's), as local time.
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=emu.ca_file, TZ="UTC")
    proc = subprocess.run(["node", "drive.js", scenario, json.dumps(args)],
                          cwd=GRAPHJS, env=env, capture_output=True,
                          text=True, timeout=util.scaled(60))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_client_pages_through_every_collection(emu):
    """PageIterator follows each @odata.nextLink to the end: it gets every
    printer, share and job once, with one request a page."""
    state = emu.state()
    floor3 = emu.share_by_name("Floor3")
    jobs = [j["id"] for j in state["jobs"]
            if j.get("shareId") == floor3["id"]]
    pid = floor3["printerId"]
    wanted = {
        "/print/printers": [p["id"] for p in state["printers"]],
        "/print/shares": [s["id"] for s in state["shares"]],
        "/print/shares/%s/jobs" % floor3["id"]: jobs,
        "/print/printers/%s/jobs" % pid:
            [j["id"] for j in state["jobs"] if j["printerId"] == pid],
    }
    for path, ids in wanted.items():
        assert len(ids) > PAGE, path
        emu.reset_requests()
        got = drive(emu, "pages", path=path)
        assert got["ok"], got
        assert got["complete"]
        assert sorted(got["ids"]) == sorted(ids), path
        assert emu.requests()["total"] == math.ceil(len(ids) / PAGE), path


def test_the_client_reads_the_error_bodies(emu):
    """Status, code, request id and date reach the client's GraphError
    from the emulator's error envelope, for the statuses print clients
    meet: an unknown printer, a user who is not an administrator, a rule
    of the service (one share a printer), an expired token."""
    floor3 = emu.share_by_name("Floor3")
    alice = emu.mint_token("alice@contoso.com")
    expired = emu.mint_token(expires_in=-60)
    cases = [
        (dict(method="get", path="/print/printers/no-such-printer"),
         None, 404, "itemNotFound"),
        (dict(method="patch", path="/print/printers/" + floor3["printerId"],
              body={"displayName": "Mine now"}), alice, 403, None),
        (dict(method="post", path="/print/shares",
              body={"displayName": "Second",
                    "printer@odata.bind": "https://graph.microsoft.com/v1.0/"
                    "print/printers/" + floor3["printerId"]}), None, 400,
         None),
        (dict(method="get", path="/print/printers"), expired, 401, None),
    ]
    for args, token, status, code in cases:
        before = time.time()
        got = drive(emu, "call", token=token, **args)
        assert not got["ok"], (args, got)
        err = got["error"]
        assert err["kind"] == "GraphError", err
        assert err["statusCode"] == status, (args, err)
        if code:
            assert err["code"] == code, err
        assert err["code"] and err["message"], err
        assert re.fullmatch(GUID, err["requestId"] or ""), err
        # innerError.date, in UTC, has whole seconds
        stamp = calendar.timegm(time.strptime(err["date"][:19],
                                              "%Y-%m-%dT%H:%M:%S"))
        assert before - 2 <= stamp <= time.time() + 1, err


@pytest.mark.parametrize("status", [429, 503, 504])
def test_the_client_waits_out_a_retry_after(emu, status):
    """The client's RetryHandler sends a request again after the
    Retry-After of a 429, 503 or 504, and gets the answer."""
    emu.set_faults("%d:1:1,times=2,route=/print/printers$,method=GET"
                   % status)
    got = drive(emu, "call", method="get", path="/print/printers")
    assert got["ok"], got
    assert len(got["body"]["value"]) == PAGE
    # Two waits of 1 s; without the header the client waits 3 s, then 5.
    assert 2000 <= got["ms"] < 4000, got
    history = emu.call("GET", "/_emulator/faults")[1]["history"]
    assert [h["fault"] for h in history] == [str(status)] * 2 + [None], \
        history


def new_job(emu, share, token):
    got = drive(emu, "call", token=token, method="post",
                path="/print/shares/%s/jobs" % share["id"],
                body={"displayName": "sdk", "configuration": {}})
    assert got["ok"], got
    job = got["body"]
    return job, "/print/shares/%s/jobs/%s" % (share["id"], job["id"])


def session_args(path, job, name, size):
    return dict(path="%s/documents/%s/createUploadSession"
                % (path, job["documents"][0]["id"]),
                payload={"properties": {"documentName": name,
                                        "contentType": "application/pdf",
                                        "size": size}})


@pytest.mark.parametrize("first_slices", [0, 2])
def test_the_client_uploads_prints_and_reads_back_a_document(
        emu, workdir, first_slices):
    """LargeFileUploadTask sends a document in 200 KiB ranges to the upload
    URL, which is on another host than Graph's (so the client sends it no
    token, as with the service), and stops at the 201; with first_slices,
    a second task made from the session alone resumes after two ranges by
    asking the session what is missing. The job then starts, and the
    document read back through $value and its redirect is the same
    bytes."""
    data = b"%PDF-1.4\n" + os.urandom(1024 * 1024 + 114)
    path = os.path.join(workdir, "doc.pdf")
    with open(path, "wb") as fh:
        fh.write(data)
    token = emu.mint_token("alice@contoso.com")
    job, job_path = new_job(emu, emu.share_by_name("Floor3"), token)
    range_size = 200 * 1024
    got = drive(emu, "upload", token=token, file=path, name="doc.pdf",
                rangeSize=range_size, firstSlices=first_slices,
                **session_args(job_path, job, "doc.pdf", len(data)))
    assert got["ok"], got
    assert got["uploadHost"] == "localhost"
    assert got["body"]["size"] == len(data)
    assert got["body"]["id"] == job["documents"][0]["id"]
    starts = list(range(0, len(data), range_size))
    assert got["ranges"] == [[a, min(a + range_size, len(data)) - 1]
                             for a in starts]
    routes = emu.requests()["routes"]
    assert routes.get("GET /uploadSessions/{sid}", 0) == \
        (1 if first_slices else 0), routes
    started = drive(emu, "call", token=token, method="post",
                    path=job_path + "/start")
    assert started["ok"], started
    assert started["body"]["state"] in ("processing", "completed"), started
    stored = emu.job_document(job["id"])
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    got = drive(emu, "download", token=token, path="%s/documents/%s/$value"
                % (job_path, job["documents"][0]["id"]))
    assert got["ok"], got
    assert (got["size"], got["sha256"]) == (len(data),
                                            hashlib.sha256(data).hexdigest())


def test_the_client_cancels_an_upload_session(emu):
    """task.cancel() deletes the session (204); asking for its status then
    is a 404 itemNotFound, and the emulator holds no session."""
    token = emu.mint_token("alice@contoso.com")
    job, job_path = new_job(emu, emu.share_by_name("Floor3"), token)
    got = drive(emu, "cancel", token=token,
                **session_args(job_path, job, "gone.pdf", 4096))
    assert got["ok"], got
    assert (got["status"], got["cancelled"]) == (204, True)
    after = got["after"]
    assert not after["ok"]
    assert (after["error"]["statusCode"], after["error"]["code"]) == \
        (404, "itemNotFound"), after
    assert emu.uploads() == []


def test_the_client_changes_who_may_print(emu):
    """An administrator adds a user to a share's allowedUsers with a $ref
    POST and removes them with a $ref DELETE through the client; both
    are 204s it takes, and the share's list says each time."""
    floor3 = emu.share_by_name("Floor3")
    users = emu.state()["users"]
    dave = next(u for u in users
                if u["userPrincipalName"] not in
                {a["userPrincipalName"] for a in floor3["allowedUsers"]})
    base = "/print/shares/%s/allowedUsers" % floor3["id"]

    def allowed():
        got = drive(emu, "pages", path=base)
        assert got["ok"], got
        return set(got["ids"])

    assert dave["id"] not in allowed()
    got = drive(emu, "call", method="post", path=base + "/$ref", body={
        "@odata.id": "https://graph.microsoft.com/v1.0/users/" + dave["id"]})
    assert got == {"ok": True, "ms": got["ms"], "body": None}, got
    assert dave["id"] in allowed()
    got = drive(emu, "call", method="delete",
                path="%s/%s/$ref" % (base, dave["id"]))
    assert got["ok"] and got["body"] is None, got
    assert dave["id"] not in allowed()


def test_the_client_registers_a_printer(emu):
    """POST /print/printers/create is a 202 without a body whose
    Operation-Location the client follows as a link (https) until the
    printerCreateOperation has succeeded; the printer is then listed."""
    emu._ok("POST", "/_emulator", {"operationSeconds": 0.3})
    body = {"displayName": "SDK Printer", "manufacturer": "Maker",
            "model": "Model", "physicalDeviceId": None,
            "hasPhysicalDevice": False, "connectorId": None,
            "certificateSigningRequest": {
                "content": "TUlJQ1dqQ0NBVUlDQVFBd0ZURVRNQkVHQTFVRUF3d0tkR1Z6"
                           "ZEE=",
                "transportKey": "TUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQw=="}}
    got = drive(emu, "raw", method="post", path="/print/printers/create",
                body=body, headers=["operation-location", "retry-after"])
    assert got["ok"], got
    assert (got["status"], got["text"]) == (202, ""), got
    loc = got["headers"]["operation-location"]
    assert re.fullmatch(re.escape(emu.base + "/v1.0/print/operations/")
                        + GUID, loc), got
    assert int(got["headers"]["retry-after"]) >= 1

    def done():
        op = drive(emu, "call", method="get", path=loc)
        assert op["ok"], op
        return op["body"] if op["body"]["status"]["state"] == "succeeded" \
            else None
    op = util.wait_until(done, timeout=20,
                         what="the operation to succeed")
    assert op["printer"]["displayName"] == "SDK Printer"
    listed = drive(emu, "pages", path="/print/printers")
    assert op["printer"]["id"] in listed["ids"]
