"""The seeded tenants: demo (a small realistic office), empty, and large
(1,000 printers, 1,000 shares, 20,000 jobs). Everything is deterministic:
ids are uuid5 of seed names and the large tenant uses a fixed-seed RNG.
The demo's virtual printer counts as registered by the app upfs-demo-app
(`_registeredByApp`), so app-only tokens of that client may PATCH it
(admin.py)."""

import datetime
import random

from . import profiles, records, util
from .state import State

T0 = datetime.datetime(2024, 5, 6, 8, 0, 0, tzinfo=datetime.timezone.utc)


def at(days=0, seconds=0):
    """A fixed timestamp relative to the tenants' reference time."""
    return util.format_time(T0 + datetime.timedelta(days=days,
                                                    seconds=seconds))


def location(**fields):
    keys = ("latitude", "longitude", "altitudeInMeters", "streetAddress",
            "subunit", "city", "postalCode", "countryOrRegion", "site",
            "building", "floor", "floorDescription", "roomName",
            "roomDescription", "organization", "subdivision",
            "stateOrProvince")
    out = {k: fields.get(k) for k in keys}
    for k in ("subunit", "organization", "subdivision"):
        out[k] = out[k] or []
    return out


REDMOND = dict(streetAddress="1 Contoso Way", city="Redmond",
               postalCode="98052", countryOrRegion="USA",
               stateOrProvince="Washington", site="Redmond Campus",
               subdivision=["King County"], latitude=47.6422,
               longitude=-122.1368, altitudeInMeters=52)
BERLIN = dict(streetAddress="Friedrichstraße 123", city="Berlin",
              postalCode="10117", countryOrRegion="Germany",
              stateOrProvince="Berlin", site="Berlin Office",
              subdivision=["Mitte"], latitude=52.5163, longitude=13.3889,
              altitudeInMeters=34)

SERVICE_ENDPOINTS = [
    ("mpsdiscovery", "Microsoft Universal Print Discovery Service",
     "https://discovery.print.microsoft.com"),
    ("mpsregistration", "Microsoft Universal Print Registration Service",
     "https://register.print.microsoft.com"),
    ("mpsnotification", "Microsoft Universal Print Notification Service",
     "https://notification.print.microsoft.com"),
    ("mpsipp", "Microsoft Universal Print IPP Service",
     "https://print.print.microsoft.com"),
]

DEMO_USERS = [
    ("admin", "Pat Admin", "Pat", "Admin", "IT Administrator"),
    ("alice", "Alice Smith", "Alice", "Smith", "Accountant"),
    ("bob", "Bob Jones", "Bob", "Jones", "Receptionist"),
    ("carol", "Carol Müller", "Carol", "Müller", "Marketing Manager"),
    ("dave", "Dave Okafor", "Dave", "Okafor", "Lab Technician"),
    ("erin", "Erin O'Brien", "Erin", "O'Brien", "Sales Representative"),
]

DEMO_GROUPS = [
    ("Sales", "Sales team", ["erin", "carol"]),
    ("Marketing", "Marketing team", ["carol"]),
    ("Lab Staff", "Everyone working in the labs", ["dave"]),
]


def _directory(state):
    """Users, groups, the print service and settings (every tenant)."""
    for name, display, given, surname, title in DEMO_USERS:
        rec = records.user(
            util.seed_id("user/%s@contoso.com" % name),
            "%s@contoso.com" % name, display, given, surname, title,
            "Building 1")
        if name == "admin":
            rec["_printerAdmin"] = True     # the Printer Administrator role
        state.add("users", rec)
    for name, desc, members in DEMO_GROUPS:
        state.add("groups", records.group(
            util.seed_id("group/" + name), name, desc, at(-400),
            [util.seed_id("user/%s@contoso.com" % m) for m in members]))
    state.add("services", {
        "id": util.seed_id("service/universal-print"),
        "endpoints": [{"id": i, "displayName": d, "uri": u}
                      for i, d, u in SERVICE_ENDPOINTS],
    })
    # printerDiscoverySettings: newer (reference §2.2), read-only here.
    state.settings = {
        "documentConversionEnabled": True,
        "printerDiscoverySettings": {
            "airPrint": {"incompatiblePrinters": "show"}},
    }


def _connector(state, key, name, fqdn, loc, days):
    cid = util.seed_id(key)
    state.add("connectors", {
        "id": cid, "displayName": name, "fullyQualifiedDomainName": fqdn,
        "operatingSystem": "Microsoft Windows Server 2022 Datacenter | "
                           "10.0.20348",
        "appVersion": "1.94.8621.41306", "registeredDateTime": at(days),
        "location": loc,
    })
    return cid


def _user(state, name):
    return state.user("%s@contoso.com" % name)


# --- demo --------------------------------------------------------------------

# (key, displayName, model, status, location, extra fields, connector)
DEMO_PRINTERS = [
    ("floor3", "Floor3 LaserJet", profiles.mono_laser,
     ("idle", [], ""),
     dict(REDMOND, subunit=["Building 1"], building="Building 1", floor="3",
          floorDescription="Third floor", roomName="301",
          roomDescription="Copy room by the east elevators",
          organization=["Contoso", "Finance"]), {}, "bldg1"),
    ("reception", "Reception Color", profiles.color_mfp,
     ("stopped", ["mediaJam", "tonerLow"], "Paper jam in tray 2; toner low"),
     dict(REDMOND, subunit=["Building 1"], building="Building 1", floor="1",
          floorDescription="Lobby", roomName="100",
          roomDescription="Behind the reception desk",
          organization=["Contoso", "Facilities"]), {}, "bldg1"),
    ("pullprint", "Pull Print (virtual)", profiles.virtual_queue,
     ("idle", [], ""),
     dict(REDMOND, organization=["Contoso"]),
     {"hasPhysicalDevice": False, "_registeredByApp": "upfs-demo-app"},
     None),
    ("salesmfp", "Sales/Marketing MFP", profiles.production_mfp,
     ("processing", [], "Printing"),
     dict(REDMOND, subunit=["Building 2", "East wing"], building="Building 2",
          floor="2", floorDescription="Second floor", roomName="214",
          roomDescription="Open space, sales corner",
          organization=["Contoso", "Sales & Marketing"]), {}, None),
    ("cafe", "Café Drucker", profiles.a4_color,
     ("idle", [], ""),
     dict(BERLIN, building="Haus A", floor="0", floorDescription="Erdgeschoss",
          roomName="12", roomDescription="Café neben dem Empfang",
          organization=["Contoso GmbH"]), {}, None),
    ("lab1", "Lab Printer", profiles.lab_laser,
     ("idle", [], ""),
     dict(REDMOND, subunit=["Building 3"], building="Building 3", floor="1",
          floorDescription="Ground floor", roomName="120",
          roomDescription="Wet lab A", organization=["Contoso", "R&D"]),
     {}, "bldg1"),
    ("lab2", "Lab Printer", profiles.lab_laser,
     ("idle", ["staplerAlmostEmpty"], "Stapler almost empty"),
     dict(REDMOND, subunit=["Building 3"], building="Building 3", floor="1",
          floorDescription="Ground floor", roomName="140",
          roomDescription="Dry lab B", organization=["Contoso", "R&D"]),
     {}, "bldg1"),
    # A name with a comma and a double quote, for CSV and JSON quoting.
    ("plotter", 'Plotter "Big Blue", Floor 4', profiles.production_mfp,
     ("idle", [], ""),
     dict(REDMOND, subunit=["Building 1"], building="Building 1", floor="4",
          floorDescription="Fourth floor", roomName="410",
          roomDescription="Facilities office",
          organization=["Contoso", "Facilities"]), {}, None),
]

# (key, displayName, printer key, allowAllUsers, users, groups)
DEMO_SHARES = [
    ("floor3", "Floor3", "floor3", True, [], []),
    ("reception", "Reception", "reception", False, ["alice", "bob"], []),
    ("secure", "Secure Release", "pullprint", True, [], []),
    ("sales", "Sales & Marketing", "salesmfp", False, ["carol"],
     ["Sales", "Marketing"]),
    ("cafe", "Café", "cafe", True, [], []),
    ("laba", "Lab A", "lab1", False, ["alice"], ["Lab Staff"]),
]

# (printer key, share key or None, user, state, document, content type, size)
DEMO_JOBS = [
    ("floor3", "floor3", "alice", "completed", "Quarterly report.pdf",
     "application/pdf", 482133),
    ("floor3", "floor3", "bob", "completed", "Visitor badge template.pdf",
     "application/pdf", 88211),
    ("reception", "reception", "bob", "pending", "Welcome letter.pdf",
     "application/pdf", 61440),
    ("reception", "reception", "alice", "aborted", "Invoice 2024-0412.oxps",
     "application/oxps", 230912),
    ("salesmfp", "sales", "carol", "processing", "Campaign brochure.pdf",
     "application/pdf", 5242880),
    ("salesmfp", "sales", "erin", "pending", "Price list Q3.pdf",
     "application/pdf", 145022),
    ("salesmfp", "sales", "erin", "canceled", "Price list Q3 draft.pdf",
     "application/pdf", 144977),
    ("pullprint", "secure", "alice", "paused", "Expense claim.pdf",
     "application/pdf", 301457),
    ("pullprint", "secure", "bob", "pending", "Payslip May.pdf",
     "application/pdf", 40960),
    ("cafe", "cafe", "carol", "completed", "Menü März.pdf",
     "application/pdf", 733184),
    ("lab1", "laba", "dave", "completed", "Assay results.pdf",
     "application/pdf", 1048576),
    ("lab2", None, "admin", "completed", "Test page.pdf",
     "application/pdf", 12288),
    ("floor3", "floor3", "admin", "canceled", "Test page.pdf",
     "application/pdf", 12288),
    ("lab1", "laba", "dave", "pending", "Sample labels.pdf",
     "application/pdf", 20480),
]


# Finished jobs of the past two months, so the usage reports and archived
# jobs have history: (printer key, share key or None, user, state,
# document, days from T0, pages, copies, colorMode and duplexMode or None
# for the printer's defaults). Ids 51.. in this (date) order.
DEMO_HISTORY = [
    ("floor3", "floor3", "alice", "completed", "March close.pdf", -52, 12,
     2, None, None),
    ("floor3", "floor3", "bob", "completed", "Visitor log.pdf", -47, 3, 1,
     None, "oneSided"),
    ("reception", "reception", "alice", "completed", "Brochure proof.pdf",
     -44, 8, 1, "color", None),
    ("reception", "reception", "bob", "canceled", "Brochure proof v2.pdf",
     -44, 8, 1, "color", None),
    ("plotter", None, "admin", "completed", "Floor plan A0.pdf", -41, 1, 1,
     "color", "oneSided"),
    ("salesmfp", "sales", "carol", "completed", "Trade show flyer.pdf", -38,
     2, 50, "color", "flipOnLongEdge"),
    ("salesmfp", "sales", "erin", "completed", "Price list Q2.pdf", -33, 5,
     3, "blackAndWhite", "flipOnLongEdge"),
    ("cafe", "cafe", "carol", "completed", "Menü April.pdf", -30, 1, 4,
     None, None),
    ("lab1", "laba", "dave", "completed", "Protocol 7.pdf", -25, 17, 1,
     None, "flipOnShortEdge"),
    ("lab1", "laba", "dave", "aborted", "Protocol 8.pdf", -20, 9, 1, None,
     None),
    ("floor3", "floor3", "erin", "completed", "Contract Müller.pdf", -12, 6,
     1, None, None),
    ("plotter", None, "admin", "completed", "Site plan.pdf", -9, 2, 3,
     "color", None),
    ("cafe", "cafe", "carol", "completed", "Menü Mai.pdf", -5, 1, 4, None,
     None),
]


def build_demo():
    state = State("demo")
    _directory(state)
    conns = {
        "bldg1": _connector(state, "demo/connector/bldg1", "CONN-BLDG1",
                            "upconn-bldg1.contoso.com",
                            location(**REDMOND, building="Building 1"), -450),
        "berlin": _connector(state, "demo/connector/berlin", "CONN-BERLIN",
                             "upconn-ber.contoso.com", location(**BERLIN),
                             -300),
    }
    pids = {}
    for n, (key, name, model, (st, det, desc), loc, extra, conn) in \
            enumerate(DEMO_PRINTERS):
        pid = util.seed_id("demo/printer/" + key)
        pids[key] = pid
        rec = records.printer(
            pid, name, model,
            registeredDateTime=at(-420 + 30 * n), lastSeenDateTime=at(0, -60),
            status={"state": st, "details": det, "description": desc},
            location=location(**loc),
            _connectorIds=[conns[conn]] if conn else [], **extra)
        state.add("printers", rec)
    sids = {}
    for n, (key, name, pkey, allow_all, users, groups) in \
            enumerate(DEMO_SHARES):
        sid = util.seed_id("demo/share/" + key)
        sids[key] = sid
        state.add("shares", records.share(
            sid, name, pids[pkey], allowAllUsers=allow_all,
            createdDateTime=at(-400 + 30 * n),
            _allowedUsers=[_user(state, u)["id"] for u in users],
            _allowedGroups=[util.seed_id("group/" + g) for g in groups]))
    # History first: a printer's job ids must ascend in its index.
    for n, (pkey, skey, uname, st, doc, days, pages, copies, color,
            duplex) in enumerate(DEMO_HISTORY):
        jid = 51 + n
        created = T0 + datetime.timedelta(days=days, seconds=2400 * n)
        _add_job(state, jid, pids[pkey], sids.get(skey), _user(state, uname),
                 st, doc, "application/pdf", 40960 * pages, created,
                 "demo/doc/%d" % jid, pages=pages, copies=copies,
                 colorMode=color, duplexMode=duplex)
    for n, (pkey, skey, uname, st, doc, ctype, size) in enumerate(DEMO_JOBS):
        jid = 101 + n
        created = T0 + datetime.timedelta(days=-1, seconds=3600 * n)
        _add_job(state, jid, pids[pkey], sids.get(skey), _user(state, uname),
                 st, doc, ctype, size, created, "demo/doc/%d" % jid)
    state.add("operations", {
        "@odata.type": "#microsoft.graph.printerCreateOperation",
        "id": util.seed_id("demo/operation/pullprint"),
        "createdDateTime": at(-360, -9),
        "status": {"state": "succeeded",
                   "description": "The operation has completed "
                                  "successfully."},
        "certificate": "MIIDdzCCAl+gAwIBAgIQemulatorcertificate0000",
        "_printerId": pids["pullprint"],
    })
    return state


def _add_job(state, jid, pid, sid, user, st, name, ctype, size, created,
             doc_key, pages=None, **overrides):
    """A seeded job: printed with its printer's defaults (overrides: other
    values for some members; None keeps the default), uploaded a few
    seconds after creation and, once acquired, downloaded by the printer.
    pages: the emulator-only page count (reports.py), None: from size."""
    def stamp(seconds):
        return util.format_time(created + datetime.timedelta(
            seconds=seconds))

    status, _ = records.job_status(st)
    acquired = status["isAcquiredByPrinter"]
    doc = records.document(util.seed_id(doc_key), name, ctype, size,
                           None if st == "paused" else stamp(4),
                           stamp(31) if acquired else None)
    d = state.printers.get(pid)["defaults"]
    config = records.configuration(
        copies=1, colorMode=d["colorMode"], duplexMode=d["duplexMode"],
        mediaSize=d["mediaSize"], mediaType=d["mediaType"],
        orientation=d["orientation"], quality=d["quality"], dpi=d["dpi"],
        pagesPerSheet=1, collate=False, fitPdfToPage=False,
        scaling=d["scaling"], inputBin=d["inputBin"],
        outputBin=d["outputBin"]) | {k: v for k, v in overrides.items()
                                     if v is not None}
    rec = records.job(jid, pid, sid, records.user_identity(user), st, doc,
                      stamp(0), config,
                      acknowledged=stamp(30) if acquired else None)
    if pages is not None:
        rec["_pageCount"] = pages
    state.add_job(rec)


# --- empty -------------------------------------------------------------------

def build_empty():
    state = State("empty")
    _directory(state)
    return state


# --- large -------------------------------------------------------------------

STOPPED_DETAILS = [["mediaJam"], ["tonerLow"], ["mediaEmpty", "tonerLow"],
                   ["coverOpen"], ["markerSupplyEmpty"], ["doorOpen"]]
JOB_STATE_WEIGHTS = [("completed", 80), ("canceled", 6), ("aborted", 3),
                     ("pending", 5), ("processing", 3), ("paused", 3)]
DOC_NAMES = ["Report", "Invoice", "Slides", "Minutes", "Contract", "Memo",
             "Boarding pass", "Spreadsheet", "Poster", "Letter"]


def build_large():
    rng = random.Random(20240506)
    state = State("large")
    _directory(state)
    users = list(state.users.records())
    for n in range(1, 201):
        upn = "user%04d@contoso.com" % n
        users.append(state.add("users", records.user(
            util.seed_id("user/" + upn), upn, "User %04d" % n, "User",
            "%04d" % n, "Employee", "Building %d" % (n % 20 + 1))))
    conn = _connector(state, "large/connector/1", "CONN-LARGE-1",
                      "upconn-large1.contoso.com", location(**REDMOND), -500)
    states, weights = zip(*JOB_STATE_WEIGHTS)
    pids, sids = [], []
    for n in range(1, 1001):
        pid = util.seed_id("large/printer/%04d" % n)
        roll = rng.random()
        if roll < 0.05:
            status = {"state": "stopped", "details": rng.choice(
                STOPPED_DETAILS), "description": ""}
        elif roll < 0.10:
            status = {"state": "processing", "details": [],
                      "description": ""}
        else:
            status = {"state": "idle", "details": [], "description": ""}
        building, floor = n % 20 + 1, n % 10 + 1
        rec = records.printer(
            pid, "Printer %04d" % n, profiles.MODELS[n % len(profiles.MODELS)],
            registeredDateTime=at(-700 + n // 2),
            lastSeenDateTime=at(0, -n), status=status,
            location=location(**REDMOND, building="Building %d" % building,
                              floor=str(floor), roomName=str(floor * 100 + n
                                                             % 50)),
            _connectorIds=[conn] if n % 3 == 0 else [])
        state.add("printers", rec)
        pids.append(pid)
        sid = util.seed_id("large/share/%04d" % n)
        allow_all = rng.random() < 0.8
        state.add("shares", records.share(
            sid, "Share %04d" % n, pid, allowAllUsers=allow_all,
            createdDateTime=at(-600 + n // 2),
            _allowedUsers=[] if allow_all else
            list(dict.fromkeys(rng.choice(users)["id"] for _ in range(2))),
            _allowedGroups=[] if allow_all else
            [util.seed_id("group/" + rng.choice(DEMO_GROUPS)[0])]))
        sids.append(sid)
    for n in range(20000):
        i = rng.randrange(1000)
        st = rng.choices(states, weights)[0]
        name = "%s %05d.pdf" % (rng.choice(DOC_NAMES), n)
        _add_job(state, 1001 + n, pids[i], sids[i], rng.choice(users), st,
                 name, "application/pdf", rng.randrange(10_000, 20_000_000),
                 T0 + datetime.timedelta(days=-30, seconds=120 * n),
                 "large/doc/%d" % n)
    return state


BUILDERS = {"demo": build_demo, "empty": build_empty, "large": build_large}


def build(name):
    return BUILDERS[name]()
