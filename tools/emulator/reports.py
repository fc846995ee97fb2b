"""The print reports under /reports (reference §2.23, §3.7): the four
usage collections and the three archived-job functions, all computed on
each request from the jobs the emulator holds, so printing a job and
completing it moves the numbers.

Routes (v1.0 and beta; every one needs Reports.Read.All in a delegated
token's `scp`, else 403 UnknownError; app-only tokens get 403
accessDenied, as the reference gives reports no application permission,
§3.0 and §5.4):

  GET /reports/dailyPrintUsageByPrinter     printUsageByPrinter per day
  GET /reports/dailyPrintUsageByUser        printUsageByUser per day
  GET /reports/monthlyPrintUsageByPrinter   ... per month
  GET /reports/monthlyPrintUsageByUser
      beta also: the older names dailyPrintUsageSummariesByPrinter,
      dailyPrintUsageSummariesByUser, monthlyPrintUsageSummariesByPrinter,
      monthlyPrintUsageSummariesByUser (400 on v1.0, like any unknown
      segment). Paged like every collection (@odata.nextLink with a
      $skiptoken); $top, $select, $skiptoken and $filter:
        usageDate eq|ne|ge|gt|le|lt 2024-05-01   (an unquoted Edm.Date)
        userPrincipalName eq|ne '...'            (ByUser collections)
        printerId eq|ne '...'                    (ByPrinter collections)
      clauses joined by `and`; string comparisons ignore case. A quoted
      date, `or`, parentheses or another property are a 400.
  GET /reports/getPrinterArchivedPrintJobs(printerId='{id}',
          startDateTime=2024-05-01T00:00:00Z,endDateTime=...)
  GET /reports/getUserArchivedPrintJobs(userId='{id}',...)   (the user's
          object id, "the ID of the user": a UPN is a 400)
  GET /reports/getGroupArchivedPrintJobs(groupId='{id}',...)
      also the form without parentheses, parameters in the query string
      (`?printerId='{id}'&startDateTime=...`, quotes optional on the id).
      -> Collection(archivedPrintJob), paged, $top/$select: the jobs of
      the printer / created by the user / created by a current member of
      the group that are in a final state (completed, canceled, aborted)
      and whose createdDateTime lies in [startDateTime, endDateTime]
      (both optional, inclusive; `null`, as the docs say to pass a value
      not required, leaves that end open). Id order. Beta elements also carry the
      page counters. 400 BadRequest: a missing or unquoted id, a quoted
      or malformed DateTimeOffset, an unknown parameter, one given twice;
      404: no such printer, user or group. A range that ends before it
      starts is simply empty.

Which jobs count, and where (one rule for every report):
  * a completed job adds 1 to completedJobCount and to
    completedColorJobCount (configuration.colorMode "color") or else
    completedBlackAndWhiteJobCount, and adds its pages and sheets; a
    canceled or aborted job adds 1 to incompleteJobCount and nothing
    else; a job not yet final is not counted.
  * period: the UTC date of the job's createdDateTime (monthly rows: the
    first day of its month). Only periods with data give rows, sorted by
    usageDate, then printer name and id, or UPN.
  * printer: the job's printer (printerName: its current displayName);
    user: the job's createdBy.userPrincipalName as recorded on the job.
  * row ids are stable: uuid5 of the report, the printer/UPN and the date.

Pages of a completed job:
  D  document pages: the job's emulator-only page count (`pageCount` in
     POST/PATCH /_emulator/jobs, set on the seeded history jobs), else
     ceil(document size / 100,000 bytes), at least 1.
  N  pages printed per copy: D, or with configuration.pageRanges the
     number of distinct pages 1..D inside the ranges (start/end, or the
     beta minimum/maximum).
  C  copies: configuration.copies (missing or < 1: 1).
  pageCount = N * C, all of them colorPageCount when colorMode is
     "color", else blackAndWhitePageCount.
  S  sides per copy: ceil(N / pagesPerSheet) (missing or < 1: 1).
  duplexMode flipOnLongEdge/flipOnShortEdge: per copy S // 2 double-sided
     sheets and S % 2 single-sided; otherwise S single-sided. Times C.
     mediaSheetCount = singleSidedSheetCount + doubleSidedSheetCount.

An archivedPrintJob: id stable (uuid5 of printer, job id and creation
time); acquiredByPrinter and acquiredDateTime from the job's status and
acknowledgedDateTime; completionDateTime when it became final (the job
clock's completion, a cancel or abort, or the PATCH /_emulator/jobs that
made it final); copiesPrinted = C for a completed job, else 0. Beta adds
pageCount, blackAndWhitePageCount, colorPageCount as above, and
simplexPageCount or duplexPageCount = pageCount (by duplexMode)."""

import datetime
import functools
import re
from urllib.parse import unquote

from . import auth, odata, records, util
from .graph_print import OTHER_CAP, collection
from .wire import GraphError

REPORTS_READ = "Reports.Read.All"
PAGE_BYTES = 100_000
DUPLEX_MODES = ("flipOnLongEdge", "flipOnShortEdge")
COUNTERS = (
    "blackAndWhitePageCount", "colorPageCount",
    "completedBlackAndWhiteJobCount", "completedColorJobCount",
    "completedJobCount", "doubleSidedSheetCount", "incompleteJobCount",
    "mediaSheetCount", "pageCount", "singleSidedSheetCount",
)
USAGE_OPTIONS = frozenset(("$select", "$top", "$skiptoken", "$filter"))
ARCHIVE_OPTIONS = frozenset(("$select", "$top", "$skiptoken"))

# name -> (monthly, by "printer"|"user", beta only)
USAGE_COLLECTIONS = {
    "dailyPrintUsageByPrinter": (False, "printer", False),
    "dailyPrintUsageByUser": (False, "user", False),
    "monthlyPrintUsageByPrinter": (True, "printer", False),
    "monthlyPrintUsageByUser": (True, "user", False),
    "dailyPrintUsageSummariesByPrinter": (False, "printer", True),
    "dailyPrintUsageSummariesByUser": (False, "user", True),
    "monthlyPrintUsageSummariesByPrinter": (True, "printer", True),
    "monthlyPrintUsageSummariesByUser": (True, "user", True),
}

# lower-case function name -> (function name, its id parameter)
FUNCTIONS = {
    "getprinterarchivedprintjobs": ("getPrinterArchivedPrintJobs",
                                    "printerId"),
    "getuserarchivedprintjobs": ("getUserArchivedPrintJobs", "userId"),
    "getgrouparchivedprintjobs": ("getGroupArchivedPrintJobs", "groupId"),
}


def _bad(message):
    return GraphError(400, "BadRequest", message)


def _no_segment(segment):
    return _bad("Resource not found for the segment '%s'." % segment)


# --- time --------------------------------------------------------------------

_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})"
                   r"(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})")


def parse_time(text):
    """A DateTimeOffset literal as an aware datetime, or None."""
    m = _TIME.fullmatch(text or "")
    if not m:
        return None
    year, mon, day, hour, mins = (int(g) for g in m.groups()[:5])
    sec = int(m.group(6) or 0)
    micro = int((m.group(7) or "0").ljust(7, "0")[:6])
    zone = m.group(8)
    if zone == "Z":
        tz = datetime.timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = datetime.timezone(sign * datetime.timedelta(
            hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime.datetime(year, mon, day, hour, mins, sec, micro,
                                 tzinfo=tz)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 16)
def usage_date(created, monthly):
    """The usageDate ("YYYY-MM-DD") of a job created at `created`
    (memoized: every request walks every job)."""
    when = parse_time(created)
    if when is None:
        return None
    day = when.astimezone(datetime.timezone.utc).date()
    if monthly:
        day = day.replace(day=1)
    return day.isoformat()


# --- pages -------------------------------------------------------------------

def document_pages(rec):
    """D of the module comment."""
    if rec.get("_pageCount") is not None:
        return max(0, int(rec["_pageCount"]))
    docs = rec.get("documents") or [{}]
    size = docs[0].get("size") or 0
    return max(1, -(-int(size) // PAGE_BYTES))


def printed_pages(doc_pages, ranges):
    """N of the module comment."""
    if not ranges:
        return doc_pages
    pages = set()
    for rng in ranges:
        start = rng.get("start", rng.get("minimum"))
        end = rng.get("end", rng.get("maximum"))
        if start is None or end is None:
            continue
        pages.update(range(max(1, int(start)), min(doc_pages, int(end)) + 1))
    return len(pages)


def _positive(value):
    return value if isinstance(value, int) and not isinstance(
        value, bool) and value > 0 else 1


def job_counts(rec):
    """The printUsage counters one job adds, or None if it is not final."""
    state = rec["status"]["state"]
    if state not in records.FINAL_STATES:
        return None
    out = dict.fromkeys(COUNTERS, 0)
    if state != "completed":
        out["incompleteJobCount"] = 1
        return out
    config = rec.get("configuration") or {}
    color = config.get("colorMode") == "color"
    copies = _positive(config.get("copies"))
    per_copy = printed_pages(document_pages(rec), config.get("pageRanges"))
    sides = -(-per_copy // _positive(config.get("pagesPerSheet")))
    if config.get("duplexMode") in DUPLEX_MODES:
        double, single = sides // 2, sides % 2
    else:
        double, single = 0, sides
    pages = per_copy * copies
    out.update({
        "completedJobCount": 1,
        "completedColorJobCount": int(color),
        "completedBlackAndWhiteJobCount": int(not color),
        "pageCount": pages,
        "colorPageCount": pages if color else 0,
        "blackAndWhitePageCount": 0 if color else pages,
        "singleSidedSheetCount": single * copies,
        "doubleSidedSheetCount": double * copies,
        "mediaSheetCount": (single + double) * copies,
    })
    return out


# --- the usage collections ---------------------------------------------------

def _who(rec, by):
    """The printer id or the creator's UPN a job is reported under."""
    if by == "printer":
        return rec["_printerId"]
    return (rec.get("createdBy") or {}).get("userPrincipalName")


def usage_rows(state, monthly, by, only=None):
    """Every row of one usage report, sorted, without ids (row_id gives
    them); only: a lower-case printer id or UPN to keep (a $filter eq,
    applied early because the large tenant has 20,000 jobs). Call under
    the lock."""
    rows = {}
    for rec in state.jobs.records():
        who = _who(rec, by)
        if not who or (only is not None and who.lower() != only):
            continue
        counts = job_counts(rec)
        day = usage_date(rec.get("createdDateTime"), monthly)
        if counts is None or day is None:
            continue
        row = rows.get((day, who))
        if row is None:
            if by == "printer":
                printer = state.printers.get(who) or {}
                row = {"printerId": who,
                       "printerName": printer.get("displayName")}
            else:
                row = {"userPrincipalName": who}
            row["usageDate"] = day
            row.update(dict.fromkeys(COUNTERS, 0))
            rows[(day, who)] = row
        for key, value in counts.items():
            row[key] += value
    return sorted(rows.values(), key=_row_order)


def row_id(row, monthly):
    """A row's stable id: uuid5 of the report, the printer/UPN, the date."""
    by, who = ("printer", row["printerId"]) if "printerId" in row else \
        ("user", row["userPrincipalName"])
    return util.seed_id("report/%s/%s/%s/%s" % (
        "monthly" if monthly else "daily", by, who, row["usageDate"]))


def _row_order(row):
    who = row.get("userPrincipalName") or row.get("printerName") or ""
    return (row["usageDate"], who.lower(), row.get("printerId") or "")


_CLAUSE = re.compile(r"\s*([A-Za-z][A-Za-z0-9/]*)\s+([A-Za-z]+)\s+"
                     r"('(?:[^']|'')*'|[^\s()']+)\s*")
_AND = re.compile(r"and\s+", re.I)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
        "ge": lambda a, b: a >= b, "gt": lambda a, b: a > b,
        "le": lambda a, b: a <= b, "lt": lambda a, b: a < b}


def parse_usage_filter(text, by):
    """[(property, op, value)] for a usage $filter, or raises 400."""
    who = "printerId" if by == "printer" else "userPrincipalName"
    clauses, pos = [], 0
    while True:
        m = _CLAUSE.match(text, pos)
        if not m:
            raise _bad("Invalid filter clause: '%s'." % text)
        prop, op, literal = m.group(1), m.group(2).lower(), m.group(3)
        clauses.append(_usage_clause(prop, op, literal, who))
        pos = m.end()
        if pos == len(text):
            return clauses
        m = _AND.match(text, pos)
        if not m:
            raise _bad("Invalid filter clause: '%s': only 'and' joins "
                       "clauses." % text)
        pos = m.end()


def _usage_clause(prop, op, literal, who):
    if prop not in ("usageDate", who):
        raise _bad("Invalid filter clause: filtering on '%s' is not "
                   "supported." % prop)
    if op not in _OPS or (prop == who and op not in ("eq", "ne")):
        raise _bad("Invalid filter clause: operator '%s' is not supported "
                   "on '%s'." % (op, prop))
    quoted = literal.startswith("'")
    if prop == "usageDate":
        if quoted:
            raise _bad("A binary operator with incompatible types was "
                       "detected. Found operand types 'Edm.Date' and "
                       "'Edm.String' for operator kind '%s'." % op)
        try:
            value = datetime.date.fromisoformat(literal).isoformat()
        except ValueError:
            value = None
        if value is None or not _DATE.fullmatch(literal):
            raise _bad("'%s' is not a valid Edm.Date literal." % literal)
        return prop, op, value
    if not quoted:
        raise _bad("Invalid filter clause: '%s' takes a quoted string, not "
                   "'%s'." % (prop, literal))
    return prop, op, literal[1:-1].replace("''", "'").lower()


class UsageQuery(odata.Query):
    """The query options of a usage collection: the shared ones, with
    this module's $filter (comparisons, not only eq)."""

    def __init__(self, raw_query, by):
        self.by = by
        super().__init__(raw_query, USAGE_OPTIONS, "printUsageBy" +
                         by.capitalize())

    def _take(self, key, value):
        if key == "$filter":
            self.filter = parse_usage_filter(value, self.by)
        else:
            super()._take(key, value)


def _row_matches(row, clauses):
    for prop, op, want in clauses:
        have = row.get(prop)
        if prop != "usageDate":
            have = (have or "").lower()
        if not _OPS[op](have, want):
            return False
    return True


def _usage(name):
    monthly, by, beta_only = USAGE_COLLECTIONS[name]

    def handler(req, state):
        if beta_only and req.version != "beta":
            raise _no_segment(req.route.segments[1])
        auth.require_permission(req, REPORTS_READ)
        q = UsageQuery(req.raw_query, by)
        only = None
        for prop, op, value in q.filter or ():
            if prop != "usageDate" and op == "eq":
                only = value
        with state.lock:
            rows = usage_rows(state, monthly, by, only)
        predicate = None
        if q.filter:
            def predicate(i):
                return _row_matches(rows[i], q.filter)
        keys = list(range(len(rows)))
        page, nxt = odata.page(keys, int, q, q.page_size(req.page_size,
                                                         OTHER_CAP), predicate)
        value = [odata.select_fields(dict(id=row_id(rows[i], monthly),
                                          **rows[i]), q.select)
                 for i in page]
        return collection(req, "reports/" + req.route.segments[1], value,
                          nxt, q.select)
    return handler


# --- the archived-job functions ----------------------------------------------

_CALL = re.compile(r"([A-Za-z]+)(?:\((.*)\))?", re.S)
_PARAM = re.compile(r"\s*([A-Za-z]+)\s*=\s*('(?:[^']|'')*'|[^,']*)\s*")


def _call_params(text):
    """{name: (quoted, value)} of `a='x',b=2024-...` (or raises 400)."""
    params, pos = {}, 0
    if not text.strip():
        return params
    while True:
        m = _PARAM.match(text, pos)
        if not m:
            raise _bad("The function parameters '%s' are not valid." % text)
        _put_param(params, m.group(1), m.group(2).strip())
        pos = m.end()
        if pos == len(text):
            return params
        if text[pos] != ",":
            raise _bad("The function parameters '%s' are not valid." % text)
        pos += 1


def _query_params(raw_query):
    """The same from `?a='x'&b=...` (percent-decoded; '+' stays '+')."""
    params = {}
    for part in raw_query.split("&"):
        key, _, value = part.partition("=")
        key = unquote(key)
        if key and not key.startswith("$"):
            _put_param(params, key, unquote(value).strip())
    return params


def _put_param(params, name, literal):
    if name.lower() in params:
        raise _bad("The parameter '%s' was given more than once." % name)
    quoted = len(literal) >= 2 and literal[0] == "'" and literal[-1] == "'"
    value = literal[1:-1].replace("''", "'") if quoted else literal
    params[name.lower()] = (name, quoted, value)


def _archive_args(fname, id_param, params, call_form):
    """(id, start datetime or None, end datetime or None), checked."""
    known = {id_param.lower(), "startdatetime", "enddatetime"}
    for key, (name, _, _) in params.items():
        if key not in known:
            raise _bad("The parameter '%s' is not a parameter of function "
                       "'%s'." % (name, fname))
    if id_param.lower() not in params:
        raise _bad("The parameter '%s' of function '%s' is missing."
                   % (id_param, fname))
    _, quoted, ident = params[id_param.lower()]
    if call_form and not quoted:
        raise _bad("The parameter '%s' must be a quoted string literal, "
                   "e.g. %s='{id}'." % (id_param, id_param))
    if not ident:
        raise _bad("The parameter '%s' is empty." % id_param)
    if id_param == "userId" and "@" in ident:
        raise _bad("The parameter 'userId' takes the user's object id, "
                   "not a user principal name ('%s')." % ident)
    bounds = []
    for key, name in (("startdatetime", "startDateTime"),
                      ("enddatetime", "endDateTime")):
        if key not in params:
            bounds.append(None)
            continue
        _, quoted, literal = params[key]
        if not quoted and literal == "null":
            bounds.append(None)
            continue
        when = None if quoted else parse_time(literal)
        if when is None:
            raise _bad("The parameter '%s' takes an unquoted DateTimeOffset "
                       "literal such as 2024-05-01T00:00:00Z, not '%s'."
                       % (name, params[key][2]))
        bounds.append(when)
    return ident, bounds[0], bounds[1]


def _subject_jobs(state, id_param, ident):
    """The job ids of the printer, user or group (404 if unknown)."""
    if id_param == "printerId":
        return list(state.jobs_by_printer.get(state.printer(ident)["id"],
                                              []))
    if id_param == "userId":
        return list(state.jobs_by_user.get(state.user(ident)["id"], []))
    jids = []
    for uid in state.group(ident).get("_members", []):
        jids.extend(state.jobs_by_user.get(uid, []))
    return jids


def archived_job(state, rec, beta):
    """The archivedPrintJob of a final job record."""
    printer = state.printers.get(rec["_printerId"]) or {}
    status = rec["status"]
    counts = job_counts(rec) or dict.fromkeys(COUNTERS, 0)
    config = rec.get("configuration") or {}
    completed = status["state"] == "completed"
    out = {
        "id": util.seed_id("archivedPrintJob/%s/%s/%s" % (
            rec["_printerId"], rec["id"], rec["createdDateTime"])),
        "acquiredByPrinter": bool(status.get("isAcquiredByPrinter")),
        "acquiredDateTime": rec.get("acknowledgedDateTime"),
        "completionDateTime": records.ended_time(rec),
        "copiesPrinted": _positive(config.get("copies")) if completed else 0,
        "createdBy": dict(rec.get("createdBy") or {}),
        "createdDateTime": rec["createdDateTime"],
        "printerId": rec["_printerId"],
        "printerName": printer.get("displayName"),
        "processingState": status["state"],
    }
    if beta:
        duplex = config.get("duplexMode") in DUPLEX_MODES
        out.update({
            "pageCount": counts["pageCount"],
            "blackAndWhitePageCount": counts["blackAndWhitePageCount"],
            "colorPageCount": counts["colorPageCount"],
            "simplexPageCount": 0 if duplex else counts["pageCount"],
            "duplexPageCount": counts["pageCount"] if duplex else 0,
        })
    return out


def _in_range(rec, start, end):
    if rec["status"]["state"] not in records.FINAL_STATES:
        return False
    created = parse_time(rec.get("createdDateTime"))
    if created is None:
        return False
    return (start is None or created >= start) and \
        (end is None or created <= end)


def archive_call(req, state):
    """GET /reports/{call}: one of FUNCTIONS, or the segment is unknown."""
    segment = req.params["call"]
    m = _CALL.fullmatch(segment)
    if not m or m.group(1).lower() not in FUNCTIONS:
        raise _no_segment(segment)
    auth.require_permission(req, REPORTS_READ)
    fname, id_param = FUNCTIONS[m.group(1).lower()]
    call_form = m.group(2) is not None
    params = _call_params(m.group(2)) if call_form else \
        _query_params(req.raw_query)
    ident, start, end = _archive_args(fname, id_param, params, call_form)
    q = odata.Query(req.raw_query, ARCHIVE_OPTIONS, "archivedPrintJob")
    with state.lock:
        jids = sorted(set(_subject_jobs(state, id_param, ident)),
                      key=state.jobs.seq_of)
        jids = [j for j in jids if _in_range(state.jobs.get(j), start, end)]
        page, nxt = odata.page(jids, state.jobs.seq_of, q, q.page_size(
            req.page_size, OTHER_CAP))
        value = [odata.select_fields(archived_job(
            state, state.jobs.get(j), req.version == "beta"), q.select)
            for j in page]
    return collection(req, "Collection(microsoft.graph.archivedPrintJob)",
                      value, nxt)


def register(router):
    for name in USAGE_COLLECTIONS:
        router.add("GET", "/reports/" + name, _usage(name), app_ok=False)
    # After the collections: the router takes the first route that matches.
    router.add("GET", "/reports/{call}", archive_call, app_ok=False)
