"""The emulator's print reports (tools/emulator/reports.py; reference
§2.23, §3.7), over real HTTP: the four usage collections equal what this
file computes, independently, from GET /_emulator/jobs with the page rule
documented in reports.py; the counts move when a job completes; paging,
$filter, $select and $top; the archived-job functions honour their range;
errors and permissions have the right status."""

import datetime
import math
import urllib.parse
import urllib.request

import pytest

import util

COUNTERS = ("blackAndWhitePageCount", "colorPageCount",
            "completedBlackAndWhiteJobCount", "completedColorJobCount",
            "completedJobCount", "doubleSidedSheetCount",
            "incompleteJobCount", "mediaSheetCount", "pageCount",
            "singleSidedSheetCount")
COLLECTIONS = {             # name -> (monthly, by)
    "dailyPrintUsageByPrinter": (False, "printer"),
    "dailyPrintUsageByUser": (False, "user"),
    "monthlyPrintUsageByPrinter": (True, "printer"),
    "monthlyPrintUsageByUser": (True, "user"),
}
FINAL = ("completed", "canceled", "aborted")
DUPLEX = ("flipOnLongEdge", "flipOnShortEdge")


# --- the rule of reports.py, written again from its description --------------

def job_counts(job):
    """The counters one job summary adds, or None if it is not final."""
    if job["state"] not in FINAL:
        return None
    out = dict.fromkeys(COUNTERS, 0)
    if job["state"] != "completed":
        out["incompleteJobCount"] = 1
        return out
    config = job["configuration"]
    if job["pageCount"] is not None:
        doc_pages = job["pageCount"]
    else:
        doc_pages = max(1, math.ceil((job["size"] or 0) / 100000))
    ranges = config.get("pageRanges")
    if ranges:
        chosen = set()
        for r in ranges:
            chosen |= set(range(max(1, r["start"]),
                                min(doc_pages, r["end"]) + 1))
        per_copy = len(chosen)
    else:
        per_copy = doc_pages
    copies = config.get("copies") or 1
    sides = math.ceil(per_copy / (config.get("pagesPerSheet") or 1))
    if config.get("duplexMode") in DUPLEX:
        double, single = sides // 2, sides % 2
    else:
        double, single = 0, sides
    color = config.get("colorMode") == "color"
    pages = per_copy * copies
    out.update(completedJobCount=1, completedColorJobCount=int(color),
               completedBlackAndWhiteJobCount=int(not color),
               pageCount=pages, colorPageCount=pages if color else 0,
               blackAndWhitePageCount=0 if color else pages,
               singleSidedSheetCount=single * copies,
               doubleSidedSheetCount=double * copies,
               mediaSheetCount=(single + double) * copies)
    return out


def day_of(stamp, monthly):
    """The usageDate of a createdDateTime: its UTC date (or month)."""
    when = datetime.datetime.fromisoformat(stamp)
    day = when.astimezone(datetime.timezone.utc).date()
    return (day.replace(day=1) if monthly else day).isoformat()


def expected_rows(emu, monthly, by):
    """The report rows (without ids) from the emulator's job summaries."""
    names = {p["id"]: p["displayName"]
             for p in emu.state(only=["printers"])["printers"]}
    rows = {}
    for job in emu.jobs():
        counts = job_counts(job)
        if counts is None:
            continue
        day = day_of(job["createdDateTime"], monthly)
        if by == "printer":
            key = job["printerId"]
            head = {"printerId": key, "printerName": names[key]}
        else:
            key = job["createdBy"]
            head = {"userPrincipalName": key}
        row = rows.setdefault((day, key), dict(head, usageDate=day,
                                               **dict.fromkeys(COUNTERS, 0)))
        for k, v in counts.items():
            row[k] += v
    return rows


# --- HTTP helpers ------------------------------------------------------------

def token(emu, **body):
    status, out = emu.call("POST", "/_emulator/token", body)
    assert status == 200, out
    return out["access_token"]


def graph(emu, tok, path, want=200):
    status, body = emu.call("GET", path, headers={
        "Authorization": "Bearer " + tok})
    assert status == want, (path, status, body)
    return body


def get_all(emu, tok, path):
    """Every element of a collection, following @odata.nextLink; returns
    (elements, number of pages)."""
    out, pages = [], 0
    while path:
        body = graph(emu, tok, path)
        out += body["value"]
        pages += 1
        link = body.get("@odata.nextLink")
        assert link is None or link.startswith(emu.base + "/"), link
        path = link[len(emu.base):] if link else None
    return out, pages


def q(text):
    """A query string value, percent-encoded the way clients send it."""
    return urllib.parse.quote(text, safe="$=',():-")


def keyed(rows, by):
    key = "printerId" if by == "printer" else "userPrincipalName"
    return {(r["usageDate"], r[key]): {k: v for k, v in r.items()
                                       if k != "id"} for r in rows}


@pytest.fixture
def demo(start_emulator):
    return start_emulator("demo", page_size=4,
                          extra_args=("--job-seconds", "0"))


@pytest.fixture
def admin(demo):
    return token(demo)


# --- the usage collections ---------------------------------------------------

@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_usage_equals_the_jobs(demo, admin, name):
    monthly, by = COLLECTIONS[name]
    rows, pages = get_all(demo, admin, "/v1.0/reports/" + name)
    want = expected_rows(demo, monthly, by)
    assert keyed(rows, by) == want
    assert pages == math.ceil(len(rows) / 4) and pages > 1, pages
    # One row per period and subject, sorted by date; every property there.
    dates = [r["usageDate"] for r in rows]
    assert dates == sorted(dates)
    for r in rows:
        assert set(r) >= set(COUNTERS) | {"id", "usageDate"}, r
        assert r["pageCount"] == r["colorPageCount"] + \
            r["blackAndWhitePageCount"]
        assert r["mediaSheetCount"] == r["singleSidedSheetCount"] + \
            r["doubleSidedSheetCount"]
    if monthly:
        assert all(d.endswith("-01") for d in dates)
        assert len(set(dates)) >= 2, "the demo tenant should span months"
    # Ids are stable and unique.
    again, _ = get_all(demo, admin, "/v1.0/reports/" + name)
    assert [r["id"] for r in again] == [r["id"] for r in rows]
    assert len({r["id"] for r in rows}) == len(rows)


def test_demo_has_awkward_names(demo, admin):
    rows, _ = get_all(demo, admin, "/v1.0/reports/monthlyPrintUsageByPrinter")
    names = {r["printerName"] for r in rows}
    assert any("," in n and '"' in n for n in names), names
    users = {u["displayName"] for u in demo.state(only=["users"])["users"]}
    assert any(any(ord(c) > 127 for c in n) for n in users), users


def test_beta_older_names(demo, admin):
    new, _ = get_all(demo, admin, "/beta/reports/monthlyPrintUsageByUser")
    old, _ = get_all(demo, admin,
                     "/beta/reports/monthlyPrintUsageSummariesByUser")
    assert old == new and old
    body = graph(demo, admin,
                 "/v1.0/reports/monthlyPrintUsageSummariesByUser", 400)
    assert body["error"]["code"] == "BadRequest"


def find_row(emu, tok, name, day, key, value):
    rows = graph(emu, tok, "/v1.0/reports/%s?$filter=%s" % (name, q(
        "usageDate eq %s and %s eq '%s'" % (day, key, value))))["value"]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def test_counts_move_when_a_job_completes(demo, admin):
    floor3 = demo.share_by_name("Floor3")
    created = "2024-02-10T09:30:00.0000000Z"        # a day with no data
    config = {"copies": 2, "colorMode": "blackAndWhite",
              "duplexMode": "flipOnLongEdge", "pagesPerSheet": 1}
    job = demo.add_job(shareId=floor3["id"], upn="bob@contoso.com",
                       state="pending", createdDateTime=created,
                       pageCount=7, configuration=config)
    args = ("dailyPrintUsageByPrinter", "2024-02-10", "printerId",
            floor3["printerId"])
    assert find_row(demo, admin, *args) is None     # not final: not counted
    bob = [u["id"] for u in demo.state(only=["users"])["users"]
           if u["userPrincipalName"] == "bob@contoso.com"][0]
    archive = ("/v1.0/reports/getUserArchivedPrintJobs(userId='%s',"
               "startDateTime=2024-02-10T00:00:00Z,endDateTime="
               "2024-02-10T23:59:59Z)" % bob)
    assert graph(demo, admin, archive)["value"] == []

    demo.patch_job(job["id"], state="completed")
    row = find_row(demo, admin, *args)
    # 7 pages x 2 copies; duplex: 3 double-sided + 1 single-sided per copy
    assert {k: row[k] for k in COUNTERS} == dict(
        dict.fromkeys(COUNTERS, 0), completedJobCount=1,
        completedBlackAndWhiteJobCount=1, pageCount=14,
        blackAndWhitePageCount=14, doubleSidedSheetCount=6,
        singleSidedSheetCount=2, mediaSheetCount=8)
    user_row = find_row(demo, admin, "monthlyPrintUsageByUser", "2024-02-01",
                        "userPrincipalName", "bob@contoso.com")
    assert user_row["pageCount"] == 14 and user_row["completedJobCount"] == 1
    [arch] = graph(demo, admin, archive)["value"]
    assert arch["processingState"] == "completed"
    assert arch["copiesPrinted"] == 2
    assert arch["completionDateTime"] >= created

    # A color page range on another job, then a canceled one, same day.
    demo.add_job(shareId=floor3["id"], upn="alice@contoso.com",
                 state="completed", createdDateTime="2024-02-10T17:00:00Z",
                 pageCount=10, configuration={
                     "colorMode": "color", "pageRanges": [
                         {"start": 2, "end": 4}, {"start": 4, "end": 20}]})
    demo.add_job(shareId=floor3["id"], upn="alice@contoso.com",
                 state="canceled", createdDateTime="2024-02-10T18:00:00Z",
                 pageCount=3)
    row = find_row(demo, admin, *args)
    assert row["completedJobCount"] == 2
    assert row["completedColorJobCount"] == 1
    assert row["colorPageCount"] == 9               # pages 2..10
    assert row["pageCount"] == 23
    assert row["incompleteJobCount"] == 1
    assert row["mediaSheetCount"] == 8 + 9


def test_printing_through_graph_moves_todays_counts(demo, admin):
    """Print a document the way upfs does; with --job-seconds 0 it is
    completed at once, and today's row counts it (size-derived pages)."""
    share = demo.share_by_name("Floor3")
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    args = ("dailyPrintUsageByUser", today, "userPrincipalName",
            "admin@contoso.com")
    before = find_row(demo, admin, *args)
    data = b"%PDF-1.7\n" + b"x" * 250000            # 3 pages by size
    auth = {"Authorization": "Bearer " + admin}
    status, job = demo.call("POST", "/v1.0/print/shares/%s/jobs"
                            % share["id"], {"configuration": {
                                "copies": 2, "duplexMode": "oneSided"}},
                            headers=auth)
    assert status == 201, job
    base = "/v1.0/print/shares/%s/jobs/%s" % (share["id"], job["id"])
    status, sess = demo.call(
        "POST", "%s/documents/%s/createUploadSession"
        % (base, job["documents"][0]["id"]),
        {"properties": {"documentName": "r.pdf",
                        "contentType": "application/pdf",
                        "size": len(data)}}, headers=auth)
    assert status == 200, sess
    put = urllib.request.Request(sess["uploadUrl"], data=data, method="PUT",
                                 headers={"Content-Range": "bytes 0-%d/%d"
                                          % (len(data) - 1, len(data))})
    with urllib.request.urlopen(put, timeout=util.scaled(30)) as resp:
        assert resp.status in (200, 201)
    status, out = demo.call("POST", base + "/start", {}, headers=auth)
    assert status == 200, out
    util.wait_until(lambda: demo.job(job["id"])["state"] == "completed",
                    what="the job to complete")
    row = find_row(demo, admin, *args)
    old = before or dict.fromkeys(COUNTERS, 0)
    assert row["pageCount"] - old["pageCount"] == 6
    assert row["singleSidedSheetCount"] - old["singleSidedSheetCount"] == 6
    assert row["completedJobCount"] - old["completedJobCount"] == 1
    assert keyed([row], "user") == {
        k: v for k, v in expected_rows(demo, False, "user").items()
        if k == (today, "admin@contoso.com")}


# --- query options -----------------------------------------------------------

def test_filters(demo, admin):
    all_rows, _ = get_all(demo, admin, "/v1.0/reports/dailyPrintUsageByUser")
    dates = sorted({r["usageDate"] for r in all_rows})
    mid = dates[len(dates) // 2]
    cases = {
        "usageDate eq %s" % mid: lambda r: r["usageDate"] == mid,
        "usageDate ge %s" % mid: lambda r: r["usageDate"] >= mid,
        "usageDate gt %s" % mid: lambda r: r["usageDate"] > mid,
        "usageDate le %s" % mid: lambda r: r["usageDate"] <= mid,
        "usageDate lt %s" % mid: lambda r: r["usageDate"] < mid,
        "usageDate ge 2024-04-01 and usageDate lt 2024-05-01":
            lambda r: "2024-04-01" <= r["usageDate"] < "2024-05-01",
        "userPrincipalName eq 'CAROL@contoso.com'":
            lambda r: r["userPrincipalName"] == "carol@contoso.com",
        "userPrincipalName eq 'dave@contoso.com' and usageDate ge %s" % mid:
            lambda r: r["userPrincipalName"] == "dave@contoso.com"
            and r["usageDate"] >= mid,
    }
    for text, keep in cases.items():
        got, _ = get_all(demo, admin, "/v1.0/reports/dailyPrintUsageByUser"
                         "?$filter=" + q(text))
        want = [r for r in all_rows if keep(r)]
        assert got == want, text
        assert 0 < len(want) < len(all_rows), text     # a real selection

    printers, _ = get_all(demo, admin,
                          "/v1.0/reports/monthlyPrintUsageByPrinter")
    pid = printers[0]["printerId"]
    got, _ = get_all(demo, admin, "/v1.0/reports/monthlyPrintUsageByPrinter"
                     "?$filter=" + q("printerId eq '%s'" % pid))
    assert got == [r for r in printers if r["printerId"] == pid] and got


def test_select_top_and_paging(demo, admin):
    body = graph(demo, admin, "/v1.0/reports/dailyPrintUsageByPrinter"
                 "?$select=usageDate,pageCount&$top=2")
    assert len(body["value"]) == 2
    assert all(set(r) == {"id", "usageDate", "pageCount"}
               for r in body["value"])
    assert body["@odata.context"].endswith(
        "#reports/dailyPrintUsageByPrinter(usageDate,pageCount)")
    link = body["@odata.nextLink"]
    assert "$skiptoken=" in link and "$top=2" in link
    rest, _ = get_all(demo, admin, link[len(demo.base):])
    everything, _ = get_all(demo, admin,
                            "/v1.0/reports/dailyPrintUsageByPrinter")
    assert [r["id"] for r in body["value"] + rest] == \
        [r["id"] for r in everything]


@pytest.mark.parametrize("query", [
    "$filter=" + q("usageDate eq '2024-05-05'"),        # quoted Edm.Date
    "$filter=" + q("usageDate eq 2024-05-32"),
    "$filter=" + q("usageDate eq 2024-05-05 or usageDate eq 2024-05-06"),
    "$filter=" + q("printerId eq 'x'"),                  # not on ByUser
    "$filter=" + q("userPrincipalName ge 'a'"),
    "$filter=" + q("userPrincipalName eq bob"),
    "$select=printerName",
    "$expand=user",
    "$top=many",
])
def test_bad_query_options(demo, admin, query):
    body = graph(demo, admin, "/v1.0/reports/dailyPrintUsageByUser?" + query,
                 400)
    assert body["error"]["code"] == "BadRequest", body


# --- archived jobs -----------------------------------------------------------

def expected_archive(emu, pick, start=None, end=None):
    """Final jobs chosen by pick(summary), created in [start, end]."""
    out = []
    for job in emu.jobs():
        created = job["createdDateTime"]
        if job["state"] in FINAL and pick(job) and \
                (start is None or created >= start) and \
                (end is None or created <= end):
            out.append(job)
    return out


def check_archive(emu, tok, path, jobs, beta=False):
    got, _ = get_all(emu, tok, path)
    names = {p["id"]: p["displayName"]
             for p in emu.state(only=["printers"])["printers"]}
    assert [(a["printerId"], a["createdDateTime"], a["processingState"])
            for a in got] == [(j["printerId"], j["createdDateTime"],
                               j["state"]) for j in jobs], path
    for a, j in zip(got, jobs):
        counts = job_counts(j)
        assert a["printerName"] == names[j["printerId"]]
        assert a["createdBy"]["userPrincipalName"] == j["createdBy"]
        assert a["acquiredByPrinter"] == j["isAcquiredByPrinter"]
        assert a["acquiredDateTime"] == j["acknowledgedDateTime"]
        assert a["completionDateTime"] == j["completionDateTime"]
        assert a["completionDateTime"] is not None
        assert a["copiesPrinted"] == ((j["configuration"]["copies"] or 1)
                                      if j["state"] == "completed" else 0)
        assert ("pageCount" in a) == beta
        if beta:
            assert a["pageCount"] == counts["pageCount"]
            assert a["colorPageCount"] == counts["colorPageCount"]
            assert a["simplexPageCount"] + a["duplexPageCount"] == \
                a["pageCount"]
    assert len({a["id"] for a in got}) == len(got)
    return got


def test_archived_printer_jobs_honour_the_range(demo, admin):
    floor3 = demo.share_by_name("Floor3")["printerId"]
    mine = [j for j in demo.jobs(printerId=floor3) if j["state"] in FINAL]
    assert len(mine) >= 3
    # Inclusive at both ends: bounds equal to jobs' createdDateTime.
    start, end = mine[1]["createdDateTime"], mine[-1]["createdDateTime"]
    path = ("/v1.0/reports/getPrinterArchivedPrintJobs(printerId='%s',"
            "startDateTime=%s,endDateTime=%s)" % (floor3, start, end))
    want = expected_archive(demo, lambda j: j["printerId"] == floor3,
                            start, end)
    assert [j["id"] for j in want] == [j["id"] for j in mine[1:]]
    check_archive(demo, admin, path, want)
    # Without a range: every final job; beta adds the page counters.
    check_archive(demo, admin, "/beta/reports/getPrinterArchivedPrintJobs("
                  "printerId='%s')" % floor3, mine, beta=True)
    # The same as query parameters, with an offset (a '+' kept as such).
    path = ("/v1.0/reports/getPrinterArchivedPrintJobs?printerId=%s"
            "&startDateTime=%s&endDateTime=%s" % (
                floor3, q("2024-03-01T00:00:00+00:00"),
                q("2024-04-01T01:00:00+01:00")))
    check_archive(demo, admin, path, expected_archive(
        demo, lambda j: j["printerId"] == floor3,
        "2024-03-01T00:00:00", "2024-04-01T00:00:00"))
    # A range that ends before it starts is empty.
    assert graph(demo, admin, "/v1.0/reports/getPrinterArchivedPrintJobs("
                 "printerId='%s',startDateTime=2024-05-01T00:00:00Z,"
                 "endDateTime=2024-04-01T00:00:00Z)" % floor3)["value"] == []


def test_archived_user_and_group_jobs(demo, admin):
    users = {u["userPrincipalName"]: u
             for u in demo.state(only=["users"])["users"]}
    carol = users["carol@contoso.com"]
    start, end = "2024-03-01T00:00:00Z", "2024-04-30T23:59:59Z"
    # The dates as given, or null (the docs: "pass the parameter with
    # null value" when it is not wanted) for an open end.
    for dates in ("startDateTime=%s,endDateTime=%s" % (start, end),
                  "startDateTime=%s,endDateTime=null" % start):
        got = check_archive(
            demo, admin, "/v1.0/reports/getUserArchivedPrintJobs(userId="
            "'%s',%s)" % (carol["id"], dates),
            expected_archive(demo, lambda j: j["createdBy"] ==
                             "carol@contoso.com", start,
                             end if "null" not in dates else None))
        # Carol's two jobs in the range; more with its end open.
        assert len(got) == 2 if "null" not in dates else len(got) > 2
    # userId is "the ID of the user", not a UPN.
    assert graph(demo, admin, "/v1.0/reports/getUserArchivedPrintJobs("
                 "userId='carol@contoso.com')", 400)
    groups = demo.state(only=["groups"])["groups"]
    sales = next(g for g in groups if g["displayName"] == "Sales")
    members = {u["userPrincipalName"] for u in users.values()
               if u["id"] in sales["memberIds"]}
    assert members == {"carol@contoso.com", "erin@contoso.com"}
    got = check_archive(
        demo, admin, "/v1.0/reports/getGroupArchivedPrintJobs(groupId='%s')"
        % sales["id"], expected_archive(
            demo, lambda j: j["createdBy"] in members))
    assert {a["createdBy"]["userPrincipalName"] for a in got} == members


@pytest.mark.parametrize("call,status", [
    ("getPrinterArchivedPrintJobs(printerId={p})", 400),       # unquoted
    ("getPrinterArchivedPrintJobs()", 400),
    ("getPrinterArchivedPrintJobs(startDateTime=2024-01-01T00:00:00Z)", 400),
    ("getPrinterArchivedPrintJobs(printerId='{p}',startDateTime="
     "'2024-01-01T00:00:00Z')", 400),                          # quoted date
    ("getPrinterArchivedPrintJobs(printerId='{p}',endDateTime=yesterday)",
     400),
    ("getPrinterArchivedPrintJobs(printerId='{p}',startDateTime=2024-01-01)",
     400),
    ("getPrinterArchivedPrintJobs(printerId='{p}',userId='x')", 400),
    ("getPrinterArchivedPrintJobs(printerId='{p}',printerId='{p}')", 400),
    ("getPrinterArchivedPrintJobs", 400),                      # no id
    ("getPrinterArchivedPrintJobs(printerId='no-such-printer')", 404),
    ("getUserArchivedPrintJobs(userId='00000000-0000-0000-0000-"
     "000000000000')", 404),
    ("getUserArchivedPrintJobs(userId='nobody@contoso.com')", 400),
    ("getGroupArchivedPrintJobs(groupId='no-such-group')", 404),
    ("getNothing(x='1')", 400),
])
def test_archive_errors(demo, admin, call, status):
    pid = demo.share_by_name("Floor3")["printerId"]
    body = graph(demo, admin, "/v1.0/reports/" + call.format(p=pid), status)
    assert set(body["error"]) >= {"code", "message", "innerError"}
    assert body["error"]["code"] != ""


# --- permissions and other tenants -------------------------------------------

def test_reports_need_reports_read_all(demo):
    pid = demo.share_by_name("Floor3")["printerId"]
    paths = ["/v1.0/reports/dailyPrintUsageByPrinter",
             "/v1.0/reports/getPrinterArchivedPrintJobs(printerId='%s')"
             % pid]
    without = token(demo, scp="Printer.Read.All PrintJob.ReadWrite.All")
    for path in paths:
        body = graph(demo, without, path, 403)
        assert body["error"]["code"] == "UnknownError"
        assert "required security scopes" in body["error"]["message"]
        assert graph(demo, token(demo), path)["value"]     # default: has it
        assert graph(demo, token(demo, scp="Reports.Read.All"),
                     path)["value"]
        # Delegated only (reference §3.0, §5.4): an app, even with the
        # role, is refused.
        for roles in (["Printer.ReadWrite.All"], ["Reports.Read.All"]):
            body = graph(demo, token(demo, kind="app", roles=roles), path,
                         403)
            assert body["error"]["code"] == "accessDenied", body
    status, _ = demo.call("GET", paths[0])
    assert status == 401


def test_empty_tenant_has_no_rows(start_emulator):
    emu = start_emulator("empty")
    tok = token(emu)
    for name in COLLECTIONS:
        body = graph(emu, tok, "/v1.0/reports/" + name)
        assert body["value"] == [] and "@odata.nextLink" not in body
    alice = [u["id"] for u in emu.state(only=["users"])["users"]
             if u["userPrincipalName"] == "alice@contoso.com"][0]
    assert graph(emu, tok, "/v1.0/reports/getUserArchivedPrintJobs("
                 "userId='%s')" % alice)["value"] == []


def test_large_tenant_spans_two_months(start_emulator):
    emu = start_emulator("large")
    tok = token(emu)
    everything, _ = get_all(emu, tok,
                            "/v1.0/reports/monthlyPrintUsageByPrinter")
    assert {r["usageDate"] for r in everything} == {"2024-04-01",
                                                   "2024-05-01"}
    months = {}
    for r in everything:
        months.setdefault(r["printerId"], []).append(r)
    pid = next(p for p, rows in months.items() if len(rows) == 2)
    rows, _ = get_all(emu, tok, "/v1.0/reports/monthlyPrintUsageByPrinter"
                      "?$filter=" + q("printerId eq '%s'" % pid))
    assert rows == months[pid]
    jobs = [j for j in emu.jobs(printerId=pid) if j["state"] == "completed"]
    assert sum(r["completedJobCount"] for r in rows) == len(jobs) > 0
    assert sum(r["pageCount"] for r in rows) == sum(
        job_counts(j)["pageCount"] for j in jobs)
