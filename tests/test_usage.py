"""Print usage and archived jobs as files (design.md §2; issue 7).

usage/by-printer/<p>/{daily,monthly}.csv and usage/by-user/<upn>/… must
hold exactly the emulator's report rows (read here straight from the
emulator over HTTP), quoted as RFC 4180 says; archive/{printers,users,
groups}/<name>/<YYYY-MM>.csv the archived jobs of that month, for the
months with data; usage/summary.svg a well-formed SVG with one bar per
printer. An empty tenant gives header-only files; completing a job moves
the counts."""

import csv
import datetime
import errno
import io
import json
import os
import urllib.request
import xml.etree.ElementTree as ET

import util
from test_print_failures import CACHE_HEADER_LEN, lmdb_put_value, lmdb_values

USAGE_COLUMNS = ["usageDate", "completedJobCount", "incompleteJobCount",
                 "completedBlackAndWhiteJobCount", "completedColorJobCount",
                 "pageCount", "blackAndWhitePageCount", "colorPageCount",
                 "mediaSheetCount", "singleSidedSheetCount",
                 "doubleSidedSheetCount"]
PLOTTER = 'Plotter "Big Blue", Floor 4'
SVG = "{http://www.w3.org/2000/svg}"


def graph(emu, path):
    """GET a Graph collection from the emulator as the admin, all pages."""
    token = emu.mint_token()
    url = emu.endpoint + path
    out = []
    while url:
        req = urllib.request.Request(url, headers={
            "Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = json.load(resp)
        out += body["value"]
        url = body.get("@odata.nextLink")
    return out


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    assert text.endswith("\r\n"), "RFC 4180 lines end with CRLF"
    return list(csv.reader(io.StringIO(text, newline="")))


def as_cell(v):
    return "" if v is None else str(v)


def want_rows(rows, who):
    tail = ["printerName", "printerId"] if who == "printer" \
        else ["userPrincipalName"]
    return [[r["usageDate"][:10]] + [as_cell(r.get(c)) for c in
                                     USAGE_COLUMNS[1:]] +
            [as_cell(r.get(c)) for c in tail]
            for r in sorted(rows, key=lambda r: r["usageDate"])]


def printer_names(emu):
    """{id: the name printers/ gives it} (two demo printers share one)."""
    printers = emu.state(only=["printers"])["printers"]
    out = {}
    for p in printers:
        same = [q for q in printers if q["displayName"] == p["displayName"]]
        out[p["id"]] = util.encode_name(p["displayName"], p["id"]) \
            if len(same) == 1 else util.with_suffix(
                util.encode_name(p["displayName"], p["id"]), p["id"])
    return out


def test_usage_by_printer_equals_the_service(emulator, mount):
    names = printer_names(emulator)
    for report in ("daily", "monthly"):
        rows = graph(emulator, "/reports/%sPrintUsageByPrinter" % report)
        assert rows, "the demo tenant has %s usage" % report
        for pid, name in names.items():
            got = read_csv(mount.p("usage", "by-printer", name,
                                   report + ".csv"))
            assert got[0] == USAGE_COLUMNS + ["printerName", "printerId"]
            assert got[1:] == want_rows([r for r in rows
                                         if r["printerId"] == pid],
                                        "printer"), (name, report)
    assert sorted(os.listdir(mount.p("usage", "by-printer"))) == \
        sorted(names.values())


def test_usage_by_user_equals_the_service(emulator, mount):
    for report in ("daily", "monthly"):
        rows = graph(emulator, "/reports/%sPrintUsageByUser" % report)
        upns = sorted({r["userPrincipalName"] for r in rows})
        assert sorted(os.listdir(mount.p("usage", "by-user"))) == upns
        for upn in upns:
            got = read_csv(mount.p("usage", "by-user", upn, report + ".csv"))
            assert got[0] == USAGE_COLUMNS + ["userPrincipalName"]
            assert got[1:] == want_rows([r for r in rows if
                                         r["userPrincipalName"] == upn],
                                        "user"), (upn, report)


def test_names_with_commas_and_quotes(emulator, mount):
    path = mount.p("usage", "by-printer", PLOTTER, "monthly.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        text = fh.read()
    # RFC 4180: the field is quoted and its quotes doubled.
    assert '"Plotter ""Big Blue"", Floor 4"' in text
    rows = read_csv(path)
    assert len(rows) > 1 and all(r[-2] == PLOTTER for r in rows[1:])


def test_empty_tenant_gives_header_only_files(start_emulator, upfs_mount):
    emu = start_emulator("empty")
    emu.add_printer(displayName="New, unused")
    mount = upfs_mount(emu)
    d = mount.p("usage", "by-printer", "New, unused")
    for report in ("daily.csv", "monthly.csv"):
        assert read_csv(os.path.join(d, report)) == [
            USAGE_COLUMNS + ["printerName", "printerId"]]
    assert os.listdir(mount.p("usage", "by-user")) == []
    assert os.listdir(mount.p("archive", "printers", "New, unused")) == []
    root = ET.parse(mount.p("usage", "summary.svg")).getroot()
    assert root.tag == SVG + "svg"
    assert "no pages printed" in ET.tostring(root,
                                             encoding="unicode").lower()


def _months(rows):
    return sorted({r["usageDate"][:7] for r in rows})


def test_archive_months_and_jobs(emulator, mount):
    names = printer_names(emulator)
    monthly = graph(emulator, "/reports/monthlyPrintUsageByPrinter")
    checked = 0
    for pid, name in names.items():
        d = mount.p("archive", "printers", name)
        months = _months([r for r in monthly if r["printerId"] == pid])
        assert sorted(os.listdir(d)) == [m + ".csv" for m in months], name
        for m in months:
            start = m + "-01T00:00:00Z"
            y, mo = map(int, m.split("-"))
            nxt = "%04d-%02d" % (y + mo // 12, mo % 12 + 1)
            jobs = graph(emulator, "/reports/getPrinterArchivedPrintJobs("
                         "printerId='%s',startDateTime=%s,endDateTime=%s)"
                         % (pid, start, nxt + "-01T00:00:00Z"))
            jobs = [j for j in jobs if j["createdDateTime"][:7] == m]
            rows = read_csv(os.path.join(d, m + ".csv"))
            assert rows[0][:3] == ["id", "printerName", "printerId"]
            assert sorted(r[0] for r in rows[1:]) == \
                sorted(j["id"] for j in jobs), (name, m)
            state = rows[0].index("processingState")
            by_id = {j["id"]: j for j in jobs}
            for r in rows[1:]:
                assert r[state] == by_id[r[0]]["processingState"]
            checked += 1
    assert checked >= 3


def test_archive_of_a_user(emulator, mount):
    """archive/users/<UPN>/: the reports name users by UPN, and
    getUserArchivedPrintJobs takes the user's object id ("the ID of the
    user"), which upfs looks up; it sent the UPN."""
    ids = {u["userPrincipalName"]: u["id"]
           for u in emulator.state(only=["users"])["users"]}
    monthly = graph(emulator, "/reports/monthlyPrintUsageByUser")
    upn = "carol@contoso.com"
    d = mount.p("archive", "users", upn)
    months = _months([r for r in monthly if r["userPrincipalName"] == upn])
    assert months and sorted(os.listdir(d)) == [m + ".csv" for m in months]
    got = []
    for m in months:
        got += [r[0] for r in read_csv(os.path.join(d, m + ".csv"))[1:]]
    jobs = graph(emulator, "/reports/getUserArchivedPrintJobs(userId='%s',"
                 "startDateTime=null,endDateTime=null)" % ids[upn])
    assert sorted(got) == sorted(j["id"] for j in jobs) and got


def test_archive_of_a_user_no_longer_in_the_directory(emulator, mount):
    """A user the usage reports still name but the directory no longer
    has (deleted, or renamed since) cannot be asked for archived jobs:
    the folder lists no month, rather than months whose every read, and
    ls -l, failed with ENOENT."""
    upn = "carol@contoso.com"
    monthly = graph(emulator, "/reports/monthlyPrintUsageByUser")
    assert _months([r for r in monthly if r["userPrincipalName"] == upn])
    status, _ = emulator.call("DELETE", "/_emulator/users/" + upn)
    assert status == 204
    mount.expect_warning(r"404 Request_ResourceNotFound")
    d = mount.p("archive", "users", upn)
    assert os.listdir(d) == []
    assert util.run(["ls", "-l", d]).returncode == 0
    assert "not in the directory" in mount.log()


def test_reports_are_refused_to_an_application_alone(emulator, upfs_mount):
    """Reports take delegated permissions only (reference §3.0, §5.4): a
    mount signed in as an application alone gets EACCES for them, and
    its other folders still read."""
    app = emulator.call("POST", "/_emulator/token", {
        "kind": "app", "roles": ["Printer.Read.All",
                                 "Reports.Read.All"]})[1]["access_token"]
    m = upfs_mount(emulator, token=app)
    m.expect_warning(r"403|accessDenied|delegated")
    assert os.listdir(m.p("printers"))
    try:
        os.listdir(m.p("usage", "by-printer"))
        got = 0
    except OSError as exc:
        got = exc.errno
    assert got == errno.EACCES


def test_archive_of_a_group_where_null_dates_are_refused(emulator,
                                                          upfs_mount):
    """A group's every-month call passes both dates null, as the docs say
    for a value not wanted; a service that refuses that (400: the
    reference calls them optional) is asked without them."""
    m = upfs_mount(emulator)
    m.expect_warning(r"400")
    emulator.set_faults("400:1,route=endDateTime=null,times=1")
    d = m.p("archive", "groups", "Lab Staff")
    assert os.listdir(d)
    assert [h["fault"] for h in emulator.call("GET", "/_emulator/faults")[
        1]["history"] if h["fault"]] == ["400"]


def test_archive_of_a_group(emulator, mount):
    group = [g for g in emulator.state()["groups"]
             if g["displayName"] == "Lab Staff"][0]
    d = mount.p("archive", "groups", "Lab Staff")
    jobs = graph(emulator, "/reports/getGroupArchivedPrintJobs(groupId='%s')"
                 % group["id"])
    months = sorted({j["createdDateTime"][:7] for j in jobs})
    assert months, "Lab Staff has archived jobs in the demo tenant"
    assert sorted(os.listdir(d)) == [m + ".csv" for m in months]
    got = []
    for m in months:
        got += [r[0] for r in read_csv(os.path.join(d, m + ".csv"))[1:]]
    assert sorted(got) == sorted(j["id"] for j in jobs)


def test_summary_svg(emulator, mount):
    path = mount.p("usage", "summary.svg")
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg" and root.get("viewBox")
    rows = graph(emulator, "/reports/dailyPrintUsageByPrinter")
    last = max(r["usageDate"][:10] for r in rows)
    y, mo, da = map(int, last.split("-"))
    first = (datetime.date(y, mo, da) -
             datetime.timedelta(days=29)).isoformat()
    in_window = {r["printerId"] for r in rows
                 if first <= r["usageDate"][:10] <= last}
    bars = [e for e in root.iter(SVG + "rect")
            if "printer" in (e.get("class") or "").split()]
    assert sorted(b.get("data-id") for b in bars) == sorted(in_window)
    pages = {}
    for r in rows:
        if first <= r["usageDate"][:10] <= last:
            pages[r["printerId"]] = pages.get(r["printerId"], 0) + \
                (r.get("pageCount") or 0)
    for b in bars:
        assert int(b.get("data-pages")) == pages[b.get("data-id")]
    assert os.stat(path).st_size == len(util.read_bytes(path))


def test_counts_move_when_a_job_completes(emulator, upfs_mount):
    names = printer_names(emulator)
    job = [j for j in emulator.jobs() if j["state"] == "pending"][0]
    name = names[job["printerId"]]

    def pages(mount):
        rows = read_csv(mount.p("usage", "by-printer", name, "monthly.csv"))
        col = rows[0].index("completedJobCount")
        return sum(int(r[col] or 0) for r in rows[1:])

    before = pages(upfs_mount(emulator))
    emulator.patch_job(job["id"], state="completed")
    # A new mount (another cache) reads the reports afresh.
    assert pages(upfs_mount(emulator)) == before + 1


def usage_files(mount):
    """{relative path: bytes} of every file of usage/."""
    out = {}
    for dirpath, _, filenames in os.walk(mount.p("usage")):
        for f in filenames:
            path = os.path.join(dirpath, f)
            out[os.path.relpath(path, mount.path)] = util.read_bytes(path)
    return out


def report_requests(emulator):
    return {route: n for route, n in emulator.requests()["routes"].items()
            if route.startswith("GET /reports/")}


def test_reports_from_the_cache_and_a_damaged_one_fetched_again(
        emulator, upfs_mount):
    """A report is kept as CSV lines built from its cached text one row at
    a time (fs/usage_index.c): a remount gives the same files byte for
    byte without asking the service, and a cached report that is no
    longer JSON is a miss, fetched again whole."""
    long_ttl = ["dir_ttl=600", "status_ttl=600"]
    first = upfs_mount(emulator, options=long_ttl)
    files = usage_files(first)
    assert len(files) > 10 and any(b.count(b"\r\n") > 2
                                   for b in files.values())
    cache = first.cache_dir
    first.unmount()

    emulator.reset_requests()
    again = upfs_mount(emulator, cache_dir=cache, options=long_ttl)
    assert usage_files(again) == files
    assert report_requests(emulator) == {}
    again.unmount()

    key = "/reports/dailyPrintUsageByPrinter"
    raw = lmdb_values(cache, "resources")[key]
    lmdb_put_value(cache, "resources", key,
                   raw[:CACHE_HEADER_LEN + (len(raw) - CACHE_HEADER_LEN) // 2])
    emulator.reset_requests()
    third = upfs_mount(emulator, cache_dir=cache, options=long_ttl)
    assert usage_files(third) == files
    assert report_requests(emulator) == {"GET " + key: 1}


def test_archive_user_ids_come_fifteen_to_a_request(start_emulator,
                                                     upfs_mount):
    """getUserArchivedPrintJobs takes the user's object id, and the
    reports name users by UPN: a walk of archive/users/ gets the ids up
    to fifteen users a request (GET /users?$filter=userPrincipalName in
    (...), the most `in` takes by default), not a GET per user. A service
    that refuses that filter gets a GET per user, and the same files."""
    emu = start_emulator(tenant="large")

    def walk(m):
        users = sorted(os.listdir(m.p("archive", "users")))
        files = {}
        for upn in users:
            months = sorted(os.listdir(m.p("archive", "users", upn)))
            files[upn] = util.read_bytes(
                m.p("archive", "users", upn, months[-1]))
        return users, files

    batched = upfs_mount(emu)
    emu.reset_requests()
    users, files = walk(batched)
    routes = emu.requests()["routes"]
    assert len(users) > 2 * 15
    # Up to 15 a listing, as many as keep its URL a cache key.
    listings = routes.get("GET /users", 0)
    assert -(-len(users) // 15) <= listings <= -(-len(users) // 10), routes
    assert routes.get("GET /users/{id}", 0) == 0, routes
    assert sum(len(f) > len(files[users[0]].splitlines()[0]) + 1
               for f in files.values()) > 0, "no user has archived jobs"

    emu.set_faults("400:1,method=GET,route=/users$")
    alone = upfs_mount(emu)
    alone.expect_warning(r"400|filter")
    emu.reset_requests()
    assert walk(alone) == (users, files)
    routes = emu.requests()["routes"]
    assert routes.get("GET /users/{id}", 0) == len(users), routes
    assert routes.get("GET /users", 0) == 1, routes
    assert "refused a $filter on userPrincipalName" in alone.log()
