"""The emulator's administrator routes (tools/emulator/admin.py,
downloads.py, graph_directory.py; reference §2.4-§2.10, §2.20-§2.21,
§3.1-§3.5, §8.2), over real HTTP: printer update, factory defaults,
unregistration and registration (a long-running operation), settings and
connector updates and deletion, document downloads through a redirect,
the signed-in user's memberships, and who sees which jobs. Every refusal
is checked for its status, its error body and that nothing changed: the
state is the same and the write log is empty."""

import hashlib
import json
import os
import re
import socket
import time
import urllib.parse

import pytest

import util
from graphclient import Client, assert_refused, request

ADMIN = "admin@contoso.com"
ALICE = "alice@contoso.com"
BOB = "bob@contoso.com"
CAROL = "carol@contoso.com"
ROLE_TEMPLATE = "644ef478-e28f-4e28-b9dc-3fdde9aa0b1f"
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CSR = {"content": "TUlJQ1dqQ0NBVUlDQVFBd0ZURVRNQkVHQTFVRUF3d0tkR1Z6ZEE=",
       "transportKey": "TUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQw=="}

# A printer whose capabilities list one value each, so every default has a
# value the printer does not take.
TIGHT_CAPS = {
    "colorModes": ["blackAndWhite"], "contentTypes": ["application/pdf"],
    "copiesPerJob": {"start": 1, "end": 5}, "dpis": [600],
    "duplexModes": ["oneSided"], "finishings": ["none"],
    "inputBins": ["auto"], "outputBins": ["top"], "mediaSizes": ["A4"],
    "mediaTypes": ["stationery"], "mediaColors": ["white"],
    "multipageLayouts": ["clockwiseFromTopLeft"],
    "orientations": ["portrait"], "pagesPerSheet": [1],
    "qualities": ["medium"], "scalings": ["auto"],
    "supportsFitPdfToPage": False,
}
TIGHT_DEFAULTS = {"colorMode": "blackAndWhite", "mediaSize": "A4",
                  "duplexMode": "oneSided", "dpi": 600}


# --- a client that shows everything ------------------------------------------

def delegated(emu, upn):
    return Client(emu, emu.mint_token(upn))


def app_client(emu, client_id="upfs-demo-app"):
    status, out = emu.call("POST", "/_emulator/token",
                           {"kind": "app", "client_id": client_id})
    assert status == 200, out
    return Client(emu, out["access_token"])


def settings(emu, **values):
    status, out = emu.call("POST", "/_emulator", values)
    assert status == 200, out
    return out


@pytest.fixture
def emu(start_emulator):
    return start_emulator("demo", extra_args=["--operation-seconds", "0.3"])


@pytest.fixture
def admin(emu):
    return delegated(emu, ADMIN)


@pytest.fixture
def bob(emu):
    return delegated(emu, BOB)


def printer_id(emu, name):
    for rec in emu.state(only=["printers"])["printers"]:
        if rec["displayName"] == name:
            return rec["id"]
    pytest.fail("no printer %r" % name)


def printer_state(emu, pid):
    """The printer as the emulator holds it (with factoryDefaults and
    registeredByApp), or None."""
    status, out = emu.call("GET", "/_emulator/printers/" + pid)
    return out if status == 200 else None


def connector_id(emu, name):
    for rec in emu.state(only=["connectors"])["connectors"]:
        if rec["displayName"] == name:
            return rec["id"]
    pytest.fail("no connector %r" % name)


def tight_printer(emu):
    return emu.add_printer(displayName="Tight", capabilities=TIGHT_CAPS,
                           defaults=TIGHT_DEFAULTS)["id"]


class Unchanged:
    """Snapshot of the state and an empty write log; check() asserts that a
    refused request left both alone."""

    def __init__(self, emu):
        self.emu = emu
        emu.reset_writes()
        self.before = emu.state()

    def check(self):
        assert self.emu.writes() == []
        assert self.emu.state() == self.before


BAD_REQUEST = ("invalidRequest", "BadRequest")


def one_write(emu, method, route, status):
    writes = emu.writes()
    assert [(w["method"], w["route"], w["status"]) for w in writes] == \
        [(method, route, status)]
    return writes[0]


# --- PATCH /print/printers/{id} ----------------------------------------------

def test_admin_updates_name_location_and_defaults(emu, admin):
    pid = printer_id(emu, "Floor3 LaserJet")
    before = printer_state(emu, pid)
    emu.reset_writes()
    r = admin("PATCH", "/print/printers/" + pid, {
        "displayName": "Floor 3 Mono",
        "location": {"floor": "4", "roomName": "402",
                     "subUnit": ["Building 1", "North"]},
        "defaults": {"copiesPerJob": 3, "duplexMode": "oneSided",
                     "colorMode": "grayscale"}})
    assert r.status == 200, r.data
    out = r.json()
    assert out["@odata.context"].endswith("/v1.0/$metadata#print/printers"
                                          "/$entity")
    assert out["id"] == pid and out["displayName"] == "Floor 3 Mono"
    assert "capabilities" not in out
    # Merged member by member: what was not sent is kept.
    assert out["defaults"] == dict(before["defaults"], copiesPerJob=3,
                                   duplexMode="oneSided",
                                   colorMode="grayscale")
    assert out["location"] == dict(before["location"], floor="4",
                                   roomName="402",
                                   subunit=["Building 1", "North"])
    after = printer_state(emu, pid)
    assert after["defaults"] == out["defaults"]
    assert after["location"] == out["location"]
    assert after["factoryDefaults"] == before["defaults"]
    assert after["registeredDateTime"] == before["registeredDateTime"]
    write = one_write(emu, "PATCH", "/print/printers/{id}", 200)
    assert write["upn"] == ADMIN and write["params"] == {"id": pid}


def test_null_clears_a_member_and_an_empty_list_a_collection(emu, admin):
    pid = printer_id(emu, "Floor3 LaserJet")
    r = admin("PATCH", "/print/printers/" + pid, {
        "defaults": {"scaling": None, "finishings": []},
        "location": {"roomDescription": None, "organization": []}})
    assert r.status == 200, r.data
    after = printer_state(emu, pid)
    assert after["defaults"]["scaling"] is None
    assert after["defaults"]["finishings"] == []
    assert after["defaults"]["mediaSize"] == "North America Letter"
    assert after["location"]["roomDescription"] is None
    assert after["location"]["organization"] == []
    assert after["location"]["city"] == "Redmond"


@pytest.mark.parametrize("body", [{"defaults": {"finishings": None}},
                                  {"location": {"organization": None}},
                                  {"location": {"subUnit": None}}])
def test_null_for_a_collection_is_refused(emu, admin, body):
    """OData: a collection may hold nulls but is never null itself."""
    pid = printer_id(emu, "Floor3 LaserJet")
    before = printer_state(emu, pid)
    r = admin("PATCH", "/print/printers/" + pid, body)
    assert r.status == 400 and "A null value was found for the property " \
        "named" in r.data.decode(), r.data
    assert printer_state(emu, pid) == before


def test_patch_honours_select(emu, admin):
    pid = printer_id(emu, "Floor3 LaserJet")
    r = admin("PATCH", "/print/printers/%s?$select=displayName,capabilities"
              % pid, {"displayName": "Renamed"})
    assert r.status == 200
    out = r.json()
    assert set(out) == {"@odata.context", "id", "displayName",
                        "capabilities"}
    assert out["capabilities"]["copiesPerJob"] == {"start": 1, "end": 999}


REFUSED_PRINTER_BODIES = [
    ({"id": "x"}, "id"),
    ({"isShared": True}, "isShared"),
    ({"registeredDateTime": "2020-01-01T00:00:00Z"}, "registeredDateTime"),
    ({"hasPhysicalDevice": False}, "hasPhysicalDevice"),
    ({"lastSeenDateTime": "2020-01-01T00:00:00Z"}, "lastSeenDateTime"),
    ({"shares": []}, "shares"),
    ({"manufacturer": "Acme"}, "manufacturer"),
    ({"model": "X1"}, "model"),
    ({"isAcceptingJobs": False}, "isAcceptingJobs"),
    ({"status": {"state": "idle"}}, "status"),
    ({"capabilities": {"dpis": [300]}}, "capabilities"),
    ({"bogus": 1}, "bogus"),
    ({"name": "Legacy"}, "name"),
    ({"@odata.type": "#microsoft.graph.printerShare"}, "@odata.type"),
    ({"displayName": 5}, "displayName"),
    ({"displayName": ""}, "displayName"),
    ({"displayName": None}, "displayName"),
    ({"defaults": "color"}, "defaults"),
    ({"defaults": {"bogus": 1}}, "bogus"),
    ({"defaults": {"colorMode": "color"}}, "defaults.colorMode"),
    ({"defaults": {"colorMode": "purple"}}, "defaults.colorMode"),
    ({"defaults": {"duplexMode": "flipOnShortEdge"}}, "defaults.duplexMode"),
    ({"defaults": {"mediaSize": "A3"}}, "defaults.mediaSize"),
    ({"defaults": {"mediaType": "labels"}}, "defaults.mediaType"),
    ({"defaults": {"mediaColor": "red"}}, "defaults.mediaColor"),
    ({"defaults": {"dpi": 1200}}, "defaults.dpi"),
    ({"defaults": {"dpi": "600"}}, "defaults.dpi"),
    ({"defaults": {"quality": "high"}}, "defaults.quality"),
    ({"defaults": {"orientation": "landscape"}}, "defaults.orientation"),
    ({"defaults": {"scaling": "fit"}}, "defaults.scaling"),
    ({"defaults": {"pagesPerSheet": 2}}, "defaults.pagesPerSheet"),
    ({"defaults": {"contentType": "application/oxps"}},
     "defaults.contentType"),
    ({"defaults": {"finishings": ["staple"]}}, "defaults.finishings"),
    ({"defaults": {"finishings": "none"}}, "defaults.finishings"),
    ({"defaults": {"inputBin": "tray-2"}}, "defaults.inputBin"),
    ({"defaults": {"outputBin": "bottom"}}, "defaults.outputBin"),
    ({"defaults": {"multipageLayout": "clockwiseFromBottomLeft"}},
     "defaults.multipageLayout"),
    ({"defaults": {"fitPdfToPage": True}}, "defaults.fitPdfToPage"),
    ({"defaults": {"fitPdfToPage": "yes"}}, "defaults.fitPdfToPage"),
    ({"defaults": {"copiesPerJob": 6}}, "defaults.copiesPerJob"),
    ({"defaults": {"copiesPerJob": 0}}, "defaults.copiesPerJob"),
    ({"defaults": {"copiesPerJob": 2.5}}, "defaults.copiesPerJob"),
    ({"defaults": {"copiesPerJob": 2, "dpi": 300}}, "defaults.dpi"),
    ({"location": "Redmond"}, "location"),
    ({"location": {"floor": "third"}}, "location.floor"),
    ({"location": {"floor": 3}}, "location.floor"),
    ({"location": {"roomName": "12a"}}, "location.roomName"),
    ({"location": {"latitude": "47.6"}}, "location.latitude"),
    ({"location": {"altitudeInMeters": 1.5}}, "location.altitudeInMeters"),
    ({"location": {"organization": "Contoso"}}, "location.organization"),
    ({"location": {"floorNumber": 3}}, "floorNumber"),
    ({"displayName": "Fine", "location": {"floor": "x"}}, "location.floor"),
]


@pytest.mark.parametrize("body,field", REFUSED_PRINTER_BODIES,
                         ids=[str(i) for i in range(len(
                             REFUSED_PRINTER_BODIES))])
def test_patch_refusals(emu, admin, body, field):
    pid = tight_printer(emu)
    same = Unchanged(emu)
    r = admin("PATCH", "/print/printers/" + pid, body)
    assert_refused(r, 400, field, codes=BAD_REQUEST)
    same.check()


def test_patch_body_not_an_object(emu, admin):
    pid = printer_id(emu, "Floor3 LaserJet")
    same = Unchanged(emu)
    assert_refused(admin("PATCH", "/print/printers/" + pid, [1, 2]), 400,
                   codes=BAD_REQUEST)
    assert_refused(admin("PATCH", "/print/printers/" + pid, b"{nope"), 400,
                   codes=BAD_REQUEST)
    same.check()


def test_non_admin_cannot_patch(emu, bob):
    pid = printer_id(emu, "Floor3 LaserJet")
    same = Unchanged(emu)
    assert_refused(bob("PATCH", "/print/printers/" + pid,
                       {"displayName": "Mine"}), 403, "Printer Administrator",
                   codes=("accessDenied",))
    # The role is checked first: an unknown printer is no 404 for bob.
    assert_refused(bob("PATCH", "/print/printers/nope",
                       {"displayName": "Mine"}), 403)
    same.check()


def test_revoked_admin_cannot_patch(emu, admin):
    pid = printer_id(emu, "Floor3 LaserJet")
    emu.patch_user(ADMIN, printerAdmin=False)
    same = Unchanged(emu)
    assert_refused(admin("PATCH", "/print/printers/" + pid,
                         {"displayName": "X"}), 403)
    same.check()


def test_patch_unknown_printer(emu, admin):
    same = Unchanged(emu)
    assert_refused(admin("PATCH", "/print/printers/" + "0" * 8,
                         {"displayName": "X"}), 404,
                   codes=("itemNotFound",))
    same.check()


def test_app_updates_its_virtual_printer(emu):
    pid = printer_id(emu, "Pull Print (virtual)")
    app = app_client(emu)
    emu.reset_writes()
    r = app("PATCH", "/print/printers/" + pid, {
        "manufacturer": "Contoso Labs", "model": "Release 2",
        "isAcceptingJobs": False,
        "status": {"state": "stopped", "details": ["disconnected"]},
        "capabilities": {"colorModes": ["grayscale"], "dpis": [300]},
        "defaults": {"colorMode": "grayscale", "dpi": 300}})
    assert r.status == 200, r.data
    after = printer_state(emu, pid)
    assert after["manufacturer"] == "Contoso Labs"
    assert after["model"] == "Release 2"
    assert after["isAcceptingJobs"] is False
    assert after["status"] == {"state": "stopped",
                               "details": ["disconnected"],
                               "description": ""}
    assert after["capabilities"]["colorModes"] == ["grayscale"]
    assert after["capabilities"]["mediaSizes"]      # the rest kept
    assert after["defaults"]["colorMode"] == "grayscale"
    assert after["defaults"]["dpi"] == 300
    write = one_write(emu, "PATCH", "/print/printers/{id}", 200)
    assert write["upn"] is None


@pytest.mark.parametrize("body,field", [
    ({"location": {"floor": "2"}}, "location"),
    ({"capabilities": {"colorModes": ["purple"]}}, "capabilities.colorModes"),
    ({"capabilities": {"copiesPerJob": {"start": 5, "end": 1}}},
     "capabilities.copiesPerJob"),
    ({"capabilities": {"dpis": ["600"]}}, "capabilities.dpis"),
    ({"capabilities": {"collation": "yes"}}, "capabilities.collation"),
    ({"capabilities": {"queueBufferSizeInBytes": 1}},
     "queueBufferSizeInBytes"),
    ({"capabilities": {"colorModes": ["grayscale"]},
      "defaults": {"colorMode": "color"}}, "defaults.colorMode"),
    ({"status": {"state": "ready"}}, "status.state"),
    ({"status": {"state": None}}, "status.state"),
    ({"isAcceptingJobs": "yes"}, "isAcceptingJobs"),
    ({"isShared": True}, "isShared"),
])
def test_app_patch_refusals(emu, body, field):
    pid = printer_id(emu, "Pull Print (virtual)")
    app = app_client(emu)
    same = Unchanged(emu)
    assert_refused(app("PATCH", "/print/printers/" + pid, body), 400, field,
                   codes=BAD_REQUEST)
    same.check()


def test_app_may_not_update_others_or_physical_printers(emu):
    virtual = printer_id(emu, "Pull Print (virtual)")
    seeded = printer_id(emu, "Floor3 LaserJet")
    physical = emu.add_printer(displayName="Physical",
                               registeredByApp="upfs-demo-app")["id"]
    assert printer_state(emu, physical)["registeredByApp"] == "upfs-demo-app"
    same = Unchanged(emu)
    other = app_client(emu, "someone-else")
    assert_refused(other("PATCH", "/print/printers/" + virtual,
                         {"displayName": "Taken"}), 403, "registered",
                   codes=("accessDenied",))
    app = app_client(emu)
    assert_refused(app("PATCH", "/print/printers/" + seeded,
                       {"displayName": "Taken"}), 403, "registered")
    assert_refused(app("PATCH", "/print/printers/" + physical,
                       {"displayName": "Taken"}), 403, "physical device",
                   codes=("accessDenied",))
    same.check()


# --- restoreFactoryDefaults --------------------------------------------------

def test_restore_factory_defaults(emu, admin):
    pid = printer_id(emu, "Reception Color")
    factory = printer_state(emu, pid)["defaults"]
    r = admin("PATCH", "/print/printers/" + pid,
              {"defaults": {"colorMode": "blackAndWhite", "copiesPerJob": 7,
                            "quality": "high"}})
    assert r.status == 200
    assert printer_state(emu, pid)["defaults"] != factory
    emu.reset_writes()
    r = admin("POST", "/print/printers/%s/restoreFactoryDefaults" % pid)
    assert r.status == 204 and r.data == b""
    assert printer_state(emu, pid)["defaults"] == factory
    got = admin("GET", "/print/printers/" + pid).json()
    assert got["defaults"] == factory
    one_write(emu, "POST", "/print/printers/{id}/restoreFactoryDefaults", 204)


def test_restore_refusals(emu, admin, bob):
    pid = printer_id(emu, "Reception Color")
    admin("PATCH", "/print/printers/" + pid, {"defaults": {"dpi": 1200}})
    same = Unchanged(emu)
    path = "/print/printers/%s/restoreFactoryDefaults" % pid
    assert_refused(bob("POST", path), 403, codes=("accessDenied",))
    assert_refused(app_client(emu)("POST", path), 403,
                   codes=("accessDenied",))
    assert_refused(admin("POST", path, {"force": True}), 400,
                   "no parameters", codes=BAD_REQUEST)
    assert_refused(admin("POST", "/print/printers/nope/"
                         "restoreFactoryDefaults"), 404)
    same.check()
    assert printer_state(emu, pid)["defaults"]["dpi"] == 1200


# --- DELETE /print/printers/{id} ---------------------------------------------

def test_unregister_a_printer(emu, admin):
    pid = printer_id(emu, "Floor3 LaserJet")
    share = emu.share_by_name("Floor3")
    assert share["printerId"] == pid
    jobs = emu.jobs(printerId=pid)
    assert jobs
    emu.reset_writes()
    r = admin("DELETE", "/print/printers/" + pid)
    assert r.status == 204 and r.data == b""
    assert admin("GET", "/print/printers/" + pid).status == 404
    assert admin("GET", "/print/shares/" + share["id"]).status == 404
    listed = admin("GET", "/print/printers").json()["value"]
    assert pid not in [p["id"] for p in listed]
    state = emu.state(only=["printers", "shares", "jobs"])
    assert share["id"] not in [s["id"] for s in state["shares"]]
    assert not [j for j in state["jobs"] if j["printerId"] == pid]
    one_write(emu, "DELETE", "/print/printers/{id}", 204)
    assert admin("DELETE", "/print/printers/" + pid).status == 404


def test_unregister_refusals(emu, admin, bob):
    pid = printer_id(emu, "Floor3 LaserJet")
    same = Unchanged(emu)
    assert_refused(bob("DELETE", "/print/printers/" + pid), 403,
                   codes=("accessDenied",))
    assert_refused(app_client(emu)("DELETE", "/print/printers/" + pid), 403)
    assert_refused(admin("DELETE", "/print/printers/" + "1" * 8), 404,
                   codes=("itemNotFound",))
    same.check()


# --- PATCH /print/settings ---------------------------------------------------

def test_update_settings(emu, admin):
    emu.reset_writes()
    r = admin("PATCH", "/print/settings", {"documentConversionEnabled": False})
    assert r.status == 204 and r.data == b""
    assert admin("GET", "/print/settings").json()[
        "documentConversionEnabled"] is False
    assert emu.state(only=["settings"])["settings"][
        "documentConversionEnabled"] is False
    one_write(emu, "PATCH", "/print/settings", 204)
    r = admin("PATCH", "/print/settings", {"documentConversionEnabled": True})
    assert r.status == 204
    assert admin("GET", "/print/settings").json()[
        "documentConversionEnabled"] is True


@pytest.mark.parametrize("body,field", [
    ({"documentConversionEnabled": "no"}, "documentConversionEnabled"),
    ({"documentConversionEnabled": None}, "documentConversionEnabled"),
    ({"bogus": True}, "bogus"),
    ({"documentConversionEnabled": False, "id": "x"}, "id"),
])
def test_settings_refusals(emu, admin, body, field):
    same = Unchanged(emu)
    assert_refused(admin("PATCH", "/print/settings", body), 400, field,
                   codes=BAD_REQUEST)
    same.check()


def test_settings_need_an_admin(emu, bob):
    same = Unchanged(emu)
    body = {"documentConversionEnabled": False}
    assert_refused(bob("PATCH", "/print/settings", body), 403,
                   codes=("accessDenied",))
    assert_refused(app_client(emu)("PATCH", "/print/settings", body), 403)
    same.check()


# --- connectors --------------------------------------------------------------

def test_update_a_connector(emu, admin):
    cid = connector_id(emu, "CONN-BLDG1")
    before = admin("GET", "/print/connectors/" + cid).json()
    emu.reset_writes()
    r = admin("PATCH", "/print/connectors/" + cid, {
        "displayName": "CONN-B1", "appVersion": "2.0.1",
        "location": {"floor": "2", "roomName": "201"}})
    assert r.status == 200, r.data
    out = r.json()
    assert out["@odata.context"].endswith("#print/connectors/$entity")
    assert out["displayName"] == "CONN-B1" and out["appVersion"] == "2.0.1"
    assert out["registeredDateTime"] == before["registeredDateTime"]
    assert out["fullyQualifiedDomainName"] == \
        before["fullyQualifiedDomainName"]
    assert out["location"] == dict(before["location"], floor="2",
                                   roomName="201")
    assert admin("GET", "/print/connectors/" + cid).json() == \
        dict(out, **{"@odata.context": before["@odata.context"]})
    one_write(emu, "PATCH", "/print/connectors/{id}", 200)


@pytest.mark.parametrize("body,field", [
    ({"registeredDateTime": "2020-01-01T00:00:00Z"}, "registeredDateTime"),
    ({"id": "x"}, "id"),
    ({"deviceHealth": {}}, "deviceHealth"),
    ({"displayName": 3}, "displayName"),
    ({"operatingSystem": ""}, "operatingSystem"),
    ({"location": {"floor": "two"}}, "location.floor"),
])
def test_connector_patch_refusals(emu, admin, body, field):
    cid = connector_id(emu, "CONN-BLDG1")
    same = Unchanged(emu)
    assert_refused(admin("PATCH", "/print/connectors/" + cid, body), 400,
                   field, codes=BAD_REQUEST)
    same.check()


def test_delete_a_connector_with_printers_is_409(emu, admin, bob):
    cid = connector_id(emu, "CONN-BLDG1")
    same = Unchanged(emu)
    r = admin("DELETE", "/print/connectors/" + cid)
    assert_refused(r, 409)
    assert r.error()["message"] == ("Before deleting the connector, please "
                                    "unregister the associated printers.")
    assert_refused(bob("DELETE", "/print/connectors/" + cid), 403)
    assert_refused(bob("PATCH", "/print/connectors/" + cid,
                       {"displayName": "x"}), 403)
    assert_refused(app_client(emu)("DELETE", "/print/connectors/" + cid),
                   403)
    assert_refused(admin("DELETE", "/print/connectors/nope"), 404)
    same.check()


def test_delete_connectors(emu, admin):
    berlin = connector_id(emu, "CONN-BERLIN")
    emu.reset_writes()
    r = admin("DELETE", "/print/connectors/" + berlin)
    assert r.status == 204 and r.data == b""
    assert admin("GET", "/print/connectors/" + berlin).status == 404
    one_write(emu, "DELETE", "/print/connectors/{id}", 204)
    # Once its printers are unregistered, a busy connector can go too.
    bldg1 = connector_id(emu, "CONN-BLDG1")
    conns = emu.state(only=["connectors"])["connectors"]
    for pid in next(c for c in conns if c["id"] == bldg1)["printerIds"]:
        assert admin("DELETE", "/print/printers/" + pid).status == 204
    assert admin("DELETE", "/print/connectors/" + bldg1).status == 204
    assert admin("GET", "/print/connectors").json()["value"] == []


# --- POST /print/printers/create ---------------------------------------------

def create_body(**over):
    body = {"displayName": "Test Printer", "manufacturer": "Test Maker",
            "model": "Test Model", "physicalDeviceId": None,
            "hasPhysicalDevice": False,
            "certificateSigningRequest": dict(CSR), "connectorId": None}
    body.update(over)
    return body


def create(emu, client, body, version="v1.0"):
    r = client("POST", "/print/printers/create", body, version=version)
    assert r.status == 202, r.data
    assert r.data == b"" and "content-type" not in r.headers
    loc = r.headers["operation-location"]
    m = re.fullmatch(re.escape("%s/%s/print/operations/" % (emu.base,
                                                           version))
                     + "(" + GUID + ")", loc)
    assert m, loc
    assert r.headers["retry-after"] == "1"
    return m.group(1)


def test_register_a_printer(emu, admin):
    cid = connector_id(emu, "CONN-BERLIN")
    count = len(admin("GET", "/print/printers").json()["value"])
    settings(emu, operationSeconds=1.5)     # long enough to see it run
    emu.reset_writes()
    op_id = create(emu, admin, create_body(connectorId=cid))
    write = one_write(emu, "POST", "/print/printers/create", 202)
    assert write["body"]["displayName"] == "Test Printer"
    op = admin("GET", "/print/operations/" + op_id).json()
    assert op["@odata.type"] == "#microsoft.graph.printerCreateOperation"
    assert op["status"]["state"] == "running"
    assert op["printer"] is None and op["certificate"] is None
    assert len(admin("GET", "/print/printers").json()["value"]) == count

    def succeeded():
        out = admin("GET", "/print/operations/" + op_id).json()
        return out if out["status"]["state"] == "succeeded" else None
    op = util.wait_until(succeeded, what="the operation to succeed")
    assert op["@odata.context"].endswith("#print/operations/$entity")
    assert op["status"]["description"]
    assert op["certificate"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert op["certificate"].rstrip().endswith("-----END CERTIFICATE-----")
    printer = op["printer"]
    assert re.fullmatch(GUID, printer["id"])
    assert printer["displayName"] == "Test Printer"
    assert printer["manufacturer"] == "Test Maker"
    assert printer["model"] == "Test Model"
    assert printer["isShared"] is False
    assert printer["hasPhysicalDevice"] is False
    assert printer["status"]["state"] == "unknown"
    assert printer["registeredDateTime"] >= op["createdDateTime"]

    listed = admin("GET", "/print/printers").json()["value"]
    assert printer["id"] in [p["id"] for p in listed]
    got = admin("GET", "/print/printers/%s?$select=id,defaults,capabilities"
                % printer["id"]).json()
    assert "application/pdf" in got["capabilities"]["contentTypes"]
    assert got["defaults"]["mediaSize"] in got["capabilities"]["mediaSizes"]
    assert printer_state(emu, printer["id"])["factoryDefaults"] == \
        got["defaults"]
    conns = admin("GET", "/print/printers/%s/connectors"
                  % printer["id"]).json()["value"]
    assert [c["id"] for c in conns] == [cid]
    # The registering app (the delegated token's client) may update it
    # with an app-only token: it has no physical device.
    app = app_client(emu, "upfs-emulator")
    r = app("PATCH", "/print/printers/" + printer["id"],
            {"status": {"state": "idle"}, "isAcceptingJobs": True})
    assert r.status == 200, r.data
    assert printer_state(emu, printer["id"])["status"]["state"] == "idle"
    # A connector with a registered printer cannot be deleted any more.
    assert admin("DELETE", "/print/connectors/" + cid).status == 409


def test_operation_delay_is_a_setting(emu, admin):
    assert emu.call("GET", "/_emulator")[1]["operationSeconds"] == 0.3
    settings(emu, operationSeconds=600)
    slow = create(emu, admin, create_body(displayName="Slow"),
                  version="beta")
    settings(emu, operationSeconds=0)
    fast = create(emu, admin, create_body(displayName="Fast"))
    r = admin("GET", "/print/operations/" + fast)
    assert r.json()["status"]["state"] == "succeeded"
    assert r.json()["printer"]["displayName"] == "Fast"
    r = admin("GET", "/print/operations/" + slow, version="beta")
    assert r.json()["status"]["state"] == "running"
    assert r.json()["@odata.context"].startswith(emu.base + "/beta/")
    names = [p["displayName"] for p in
             admin("GET", "/print/printers").json()["value"]]
    assert "Fast" in names and "Slow" not in names
    ops = {o["id"]: o for o in admin("GET", "/print/operations")
           .json()["value"]}
    assert ops[slow]["status"]["state"] == "running"
    assert ops[fast]["status"]["state"] == "succeeded"


def test_physical_printer_needs_a_device_id(emu, admin):
    body = create_body(hasPhysicalDevice=True, physicalDeviceId="dev-42")
    settings(emu, operationSeconds=0)
    op_id = create(emu, admin, body)
    op = admin("GET", "/print/operations/" + op_id).json()
    assert op["printer"]["hasPhysicalDevice"] is True
    body = create_body(physicalDeviceId="dev-43")
    del body["hasPhysicalDevice"]           # defaults to true
    op = admin("GET", "/print/operations/" + create(emu, admin, body)).json()
    assert op["printer"]["hasPhysicalDevice"] is True


def _without(key):
    body = create_body()
    del body[key]
    return body


REFUSED_CREATE_BODIES = [
    (_without("displayName"), "displayName"),
    (create_body(displayName=""), "displayName"),
    (_without("manufacturer"), "manufacturer"),
    (create_body(model=7), "model"),
    (_without("certificateSigningRequest"), "certificateSigningRequest"),
    (create_body(certificateSigningRequest="csr"),
     "certificateSigningRequest"),
    (create_body(certificateSigningRequest={"content": "x"}),
     "certificateSigningRequest.transportKey"),
    (create_body(certificateSigningRequest={"content": "",
                                            "transportKey": "k"}),
     "certificateSigningRequest.content"),
    (create_body(hasPhysicalDevice="yes"), "hasPhysicalDevice"),
    (create_body(hasPhysicalDevice=True), "physicalDeviceId"),
    (_without("hasPhysicalDevice"), "physicalDeviceId"),
    (create_body(physicalDeviceId=12), "physicalDeviceId"),
    (create_body(connectorId="no-such-connector"), "connectorId"),
    (create_body(connectorId=5), "connectorId"),
    (create_body(location={"floor": "1"}), "location"),
]


@pytest.mark.parametrize("body,field", REFUSED_CREATE_BODIES,
                         ids=[str(i) for i in range(len(
                             REFUSED_CREATE_BODIES))])
def test_create_refusals(emu, admin, body, field):
    same = Unchanged(emu)
    r = admin("POST", "/print/printers/create", body)
    assert_refused(r, 400, field, codes=BAD_REQUEST)
    assert "operation-location" not in r.headers
    same.check()


def test_create_needs_an_admin(emu, bob):
    same = Unchanged(emu)
    assert_refused(bob("POST", "/print/printers/create", create_body()), 403,
                   codes=("accessDenied",))
    assert_refused(app_client(emu)("POST", "/print/printers/create",
                                   create_body()), 403)
    same.check()


def test_emulator_settings_are_checked(emu):
    before = emu.call("GET", "/_emulator")[1]
    for body in ({"operationSeconds": -1}, {"operationSeconds": "1"},
                 {"downloadUrlSeconds": 0}, {"pageSize": 0},
                 {"bogus": 1}, {"operationSeconds": True},
                 {"listsOmitDetails": 1}, {"listsOmitDetails": "true"},
                 {"listsOmitDetailsOf": "p1"}, {"listsOmitDetailsOf": [1]}):
        status, out = emu.call("POST", "/_emulator", body)
        assert status == 400, (body, out)
    assert emu.call("GET", "/_emulator")[1] == before


# --- document downloads ------------------------------------------------------

def job_of(emu, jid):
    summary = emu.job(jid)
    return summary, "/print/printers/%s/jobs/%s/documents/%s/$value" % (
        summary["printerId"], jid, summary["documentId"])


def download_url(emu, client, path):
    r = client("GET", path)
    assert r.status == 302, r.data
    assert r.data == b""
    loc = r.headers["location"]
    assert re.fullmatch(re.escape(emu.transfer_base + "/downloads/") + GUID
                        + r"\?tempauthtoken=[A-Za-z0-9_-]+", loc), loc
    return loc


def test_download_a_seeded_document(emu, admin):
    summary, path = job_of(emu, "101")         # alice's Quarterly report
    url = download_url(emu, admin, path)
    r = request(emu, "GET", url)
    assert r.status == 200
    assert r.headers["content-type"] == "application/pdf"
    assert int(r.headers["content-length"]) == summary["size"]
    assert len(r.data) == summary["size"]
    assert r.data.startswith(b"%PDF-")
    doc = emu.job_document("101")
    assert doc["synthetic"] is True and doc["path"] is None
    assert hashlib.sha256(r.data).hexdigest() == doc["sha256"]
    # Another URL, the same bytes; the URL works more than once.
    again = download_url(emu, admin, path)
    assert again != url
    assert request(emu, "GET", again).data == r.data
    assert request(emu, "GET", url).data == r.data
    head = request(emu, "HEAD", url)
    assert head.status == 200 and head.data == b""
    assert int(head.headers["content-length"]) == summary["size"]
    counts = emu.requests()["routes"]
    assert counts["GET /downloads/{id}"] == 3
    assert counts["HEAD /downloads/{id}"] == 1


def test_download_ranges(emu, admin):
    summary, path = job_of(emu, "102")
    size = summary["size"]
    url = download_url(emu, admin, path)
    full = request(emu, "GET", url).data
    assert len(full) == size
    for header, start, end in (("bytes=0-9", 0, 9),
                               ("bytes=%d-" % (size - 5), size - 5, size - 1),
                               ("bytes=-7", size - 7, size - 1),
                               ("bytes=100-%d" % (size + 50), 100, size - 1)):
        r = request(emu, "GET", url, headers={"Range": header})
        assert r.status == 206, header
        assert r.headers["content-range"] == "bytes %d-%d/%d" % (start, end,
                                                                  size)
        assert int(r.headers["content-length"]) == end - start + 1
        assert r.data == full[start:end + 1]
    r = request(emu, "GET", url, headers={"Range": "bytes=%d-" % size})
    assert r.status == 416
    assert r.headers["content-range"] == "bytes */%d" % size
    r = request(emu, "GET", url, headers={"Range": "pages=1-2"})
    assert r.status == 200 and r.data == full


def test_download_url_refusals(emu, admin):
    _, path = job_of(emu, "101")
    url = download_url(emu, admin, path)
    same = Unchanged(emu)
    r = request(emu, "GET", url, token=admin.token)
    assert_refused(r, 401, "Authorization")
    base, _, _ = url.partition("?")
    assert_refused(request(emu, "GET", base + "?tempauthtoken=wrong"), 401)
    assert_refused(request(emu, "GET", base), 401)
    assert_refused(request(emu, "GET", emu.base + "/downloads/" + "2" * 8
                           + "?tempauthtoken=x"), 404,
                   codes=("itemNotFound",))
    same.check()


def test_download_url_expires(emu, admin):
    _, path = job_of(emu, "101")
    settings(emu, downloadUrlSeconds=0.3)
    url = download_url(emu, admin, path)
    time.sleep(util.scaled(0.5))
    assert_refused(request(emu, "GET", url), 404, codes=("itemNotFound",))


def test_download_after_the_job_is_gone(emu, admin):
    _, path = job_of(emu, "101")
    url = download_url(emu, admin, path)
    assert emu.call("DELETE", "/_emulator/jobs/101")[0] == 204
    assert request(emu, "GET", url).status == 404


def test_who_may_read_a_document(emu, admin, bob):
    summary, path = job_of(emu, "101")          # alice's, share Floor3
    share_path = "/print/shares/%s/jobs/101/documents/%s/$value" % (
        summary["shareId"], summary["documentId"])
    alice = delegated(emu, ALICE)
    download_url(emu, alice, path)
    download_url(emu, alice, share_path)
    download_url(emu, app_client(emu), path)
    download_url(emu, admin, share_path)
    same = Unchanged(emu)
    assert_refused(bob("GET", path), 403, codes=("accessDenied",))
    assert_refused(bob("GET", share_path), 403, codes=("accessDenied",))
    same.check()


def test_nothing_to_download(emu, admin):
    paused = next(j for j in emu.jobs() if j["state"] == "paused")
    assert not paused["uploaded"]
    _, path = job_of(emu, paused["id"])
    assert_refused(admin("GET", path), 404, codes=("itemNotFound",))
    assert emu.call("GET", "/_emulator/jobs/%s/document"
                    % paused["id"])[0] == 404
    _, path = job_of(emu, "101")
    assert_refused(admin("GET", path.replace("/documents/", "/documents/x")),
                   404)
    assert_refused(admin("GET", path.replace("/jobs/101/", "/jobs/9999/")),
                   404)


def open_upload(emu, name, data, headers=None):
    """Alice's job on Floor3 with an upload session for data: (her client,
    the job, its document id, the upload URL). headers: the session
    request's own."""
    alice = delegated(emu, ALICE)
    share = emu.share_by_name("Floor3")
    r = alice("POST", "/print/shares/%s/jobs" % share["id"],
              {"configuration": {}})
    assert r.status == 201, r.data
    job = r.json()
    did = job["documents"][0]["id"]
    r = alice("POST", "/print/shares/%s/jobs/%s/documents/%s/"
              "createUploadSession" % (share["id"], job["id"], did),
              {"properties": {"documentName": name,
                              "contentType": "application/pdf",
                              "size": len(data)}}, headers=headers)
    assert r.status == 200, r.data
    return alice, job, did, r.json()["uploadUrl"]


@pytest.mark.parametrize("option, via, host", [
    ((), "127.0.0.1", "localhost"),
    ((), "localhost", "127.0.0.1"),
    (("--transfer-host", "same"), "127.0.0.1", "127.0.0.1"),
    (("--transfer-host", "print.example.com"), "127.0.0.1",
     "print.example.com"),
])
def test_transfer_urls_are_on_another_host(start_emulator, option, via,
                                           host):
    """As the service's upload URLs are on print.print.microsoft.com, not
    on Graph's host, the emulator's upload and download URLs name the
    other loopback name than the client used (a client that sends its
    token by host name then sends none there), or --transfer-host's; the
    port stays. The upload and the download then work (by 127.0.0.1 for
    a name that reaches nothing here)."""
    emu = start_emulator(extra_args=option)
    port = urllib.parse.urlsplit(emu.base).port
    data = b"%PDF-1.4 transfer host\n"
    alice = delegated(emu, ALICE)
    share = emu.share_by_name("Floor3")
    graph = "http://%s:%d/v1.0" % (via, port)
    r = request(emu, "POST", graph + "/print/shares/%s/jobs" % share["id"],
                {"configuration": {}}, alice.token)
    assert r.status == 201, r.data
    job, jobs = r.json(), graph + "/print/shares/%s/jobs/" % share["id"]
    did = job["documents"][0]["id"]
    r = request(emu, "POST", jobs + "%s/documents/%s/createUploadSession"
                % (job["id"], did), {"properties": {
                    "documentName": "t.pdf", "contentType": "application/pdf",
                    "size": len(data)}}, alice.token)
    assert r.status == 200, r.data
    upload_url = r.json()["uploadUrl"]
    upload = urllib.parse.urlsplit(upload_url)
    assert (upload.hostname, upload.port) == (host, port)
    info = emu.call("GET", "/_emulator")[1]
    assert info["transferHost"] == (option[1] if option else None)
    r = request(emu, "GET", jobs + "%s/documents/%s/$value"
                % (job["id"], did), token=alice.token)
    assert r.status == 404          # nothing uploaded yet
    if host == "print.example.com":  # a name that reaches nothing here
        upload_url = upload._replace(netloc="127.0.0.1:%d" % port).geturl()
    r = request(emu, "PUT", upload_url, data, headers={
        "Content-Range": "bytes 0-%d/%d" % (len(data) - 1, len(data)),
        "Content-Type": "application/octet-stream"})
    assert r.status == 201, r.data
    r = request(emu, "GET", jobs + "%s/documents/%s/$value"
                % (job["id"], did), token=alice.token)
    assert r.status == 302, r.data
    download = urllib.parse.urlsplit(r.headers["location"])
    assert (download.hostname, download.port) == (host, port)
    if host == "print.example.com":
        download = download._replace(netloc="127.0.0.1:%d" % port)
    r = request(emu, "GET", download.geturl())
    assert (r.status, r.data) == (200, data)


def test_a_transfer_host_is_a_host_only(emu):
    """--transfer-host with a port is refused at start; a request whose
    Host names no usable port gets its upload URL on its own base rather
    than a 500."""
    bad = util.run([util.PYTHON, util.EMULATOR, "--transfer-host",
                    "host:9000"], check=False)
    assert bad.returncode == 2, bad
    assert "a host name or address without a port" in bad.stderr, bad
    upload = open_upload(emu, "h.pdf", b"0123456789",
                         headers={"Host": "127.0.0.1:abc"})[3]
    assert upload.startswith("http://127.0.0.1:abc/uploadSessions/"), \
        upload


def test_a_saved_state_keeps_the_hash_of_an_upload(start_emulator, workdir):
    """A document sent in three PUTs (the first smaller than what one read
    of the socket brings, the next of one byte) is stored whole, and
    --state saves its sha256, which is computed only when first asked."""
    path = os.path.join(workdir, "saved-state.json")
    emu = start_emulator(extra_args=["--state", path])
    data = b"%PDF-1.7\n" + bytes(range(256)) * 9000 + b"\n%%EOF\n"
    _, job, _, upload = open_upload(emu, "saved.pdf", data)
    for start, end in ((0, 999), (1000, 1000), (1001, len(data) - 1)):
        r = request(emu, "PUT", upload, data[start:end + 1], headers={
            "Content-Range": "bytes %d-%d/%d" % (start, end, len(data)),
            "Content-Type": "application/octet-stream"})
        assert r.status == (201 if end == len(data) - 1 else 202), r.data
    emu.stop()
    with open(path, encoding="utf-8") as fh:
        saved = json.load(fh)
    [rec] = [j for j in saved["collections"]["jobs"] if j["id"] == job["id"]]
    assert rec["_sha256"] == hashlib.sha256(data).hexdigest()


def test_download_an_uploaded_document(emu, admin, bob):
    data = b"%PDF-1.7\n" + bytes(range(256)) * 2000 + b"\n%%EOF\n"
    alice, job, did, upload = open_upload(emu, "upload.pdf", data)
    share = emu.share_by_name("Floor3")
    r = request(emu, "PUT", upload, data, headers={
        "Content-Range": "bytes 0-%d/%d" % (len(data) - 1, len(data)),
        "Content-Type": "application/octet-stream"})
    assert r.status == 201, r.data
    doc = emu.job_document(job["id"])
    assert doc["synthetic"] is False and doc["path"]
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    path = "/print/shares/%s/jobs/%s/documents/%s/$value" % (
        share["id"], job["id"], did)
    url = download_url(emu, alice, path)
    r = request(emu, "GET", url)
    assert r.status == 200 and r.data == data
    assert r.headers["content-type"] == "application/pdf"
    assert int(r.headers["content-length"]) == len(data)
    r = request(emu, "GET", url, headers={"Range": "bytes=1000-1999"})
    assert r.status == 206 and r.data == data[1000:2000]
    # bob may not, the admin may.
    assert_refused(bob("GET", path), 403, codes=("accessDenied",))
    assert request(emu, "GET", download_url(emu, admin, path)).data == data


# --- /me/memberOf ------------------------------------------------------------

def test_admin_holds_the_printer_administrator_role(emu, admin):
    out = admin("GET", "/me/memberOf").json()
    assert out["@odata.context"] == emu.base + \
        "/v1.0/$metadata#directoryObjects"
    roles = [o for o in out["value"]
             if o["@odata.type"] == "#microsoft.graph.directoryRole"]
    assert len(roles) == 1
    role = roles[0]
    assert role["displayName"] == "Printer Administrator"
    assert role["roleTemplateId"] == ROLE_TEMPLATE
    assert re.fullmatch(GUID, role["id"]) and role["description"]
    cast = admin("GET", "/me/memberOf/microsoft.graph.directoryRole").json()
    assert cast["@odata.context"].endswith("$metadata#directoryRoles")
    assert [dict(r, **{"@odata.type": "#microsoft.graph.directoryRole"})
            for r in cast["value"]] == [role]
    assert "@odata.type" not in cast["value"][0]
    again = delegated(emu, ADMIN)("GET", "/me/transitiveMemberOf/"
                                  "microsoft.graph.directoryRole").json()
    assert again["value"] == cast["value"]          # a stable id


def test_memberships_of_a_user(emu):
    carol = delegated(emu, CAROL)
    me = carol_id(emu)
    want = sorted(g["id"] for g in emu.state(only=["groups"])["groups"]
                  if me in g["memberIds"])
    assert len(want) == 2                           # Sales, Marketing
    for nav in ("memberOf", "transitiveMemberOf"):
        out = carol("GET", "/me/" + nav).json()
        assert sorted(o["id"] for o in out["value"]) == want
        assert {o["@odata.type"] for o in out["value"]} == {
            "#microsoft.graph.group"}
        sales = next(o for o in out["value"] if o["displayName"] == "Sales")
        assert sales["securityEnabled"] is True
        assert carol("GET", "/me/%s/microsoft.graph.directoryRole"
                     % nav).json()["value"] == []
        cast = carol("GET", "/me/%s/microsoft.graph.group" % nav).json()
        assert cast["@odata.context"].endswith("$metadata#groups")
        assert sorted(g["id"] for g in cast["value"]) == want
    # Paged and $select-able.
    first = carol("GET", "/me/memberOf?$top=1&$select=displayName").json()
    assert first["@odata.context"].endswith(
        "$metadata#directoryObjects(displayName)")
    assert len(first["value"]) == 1
    assert set(first["value"][0]) == {"@odata.type", "id", "displayName"}
    second = request(emu, "GET", first["@odata.nextLink"],
                     token=carol.token).json()
    assert len(second["value"]) == 1 and "@odata.nextLink" not in second
    assert sorted([first["value"][0]["id"], second["value"][0]["id"]]) == \
        want
    # Granting the role shows it.
    emu.patch_user(CAROL, printerAdmin=True)
    roles = carol("GET", "/me/memberOf/microsoft.graph.directoryRole").json()
    assert [r["roleTemplateId"] for r in roles["value"]] == [ROLE_TEMPLATE]


def carol_id(emu):
    return next(u["id"] for u in emu.state(only=["users"])["users"]
                if u["userPrincipalName"] == CAROL)


def test_memberships_refusals(emu, admin):
    r = app_client(emu)("GET", "/me/memberOf")
    assert_refused(r, 400, "delegated", codes=BAD_REQUEST)
    assert_refused(admin("GET", "/me/memberOf?$filter=displayName%20eq%20"
                         "%27x%27"), 400)
    assert_refused(admin("GET", "/me/memberOf?$select=bogus"), 400)
    assert_refused(admin("GET", "/me/memberOf/microsoft.graph.user"), 400)


# --- who sees which jobs -----------------------------------------------------

def test_others_jobs_need_the_admin_role_and_an_all_scope(emu, admin, bob):
    pid = printer_id(emu, "Floor3 LaserJet")
    everyone = {j["id"]: j["createdBy"] for j in emu.jobs(printerId=pid)}
    assert set(everyone.values()) > {BOB}           # others' jobs exist
    mine = sorted(j for j, upn in everyone.items() if upn == BOB)
    assert mine
    listed = bob("GET", "/print/printers/%s/jobs" % pid).json()["value"]
    assert sorted(j["id"] for j in listed) == mine
    assert all(j["createdBy"]["userPrincipalName"] == BOB for j in listed)
    listed = admin("GET", "/print/printers/%s/jobs" % pid).json()["value"]
    assert sorted(j["id"] for j in listed) == sorted(everyone)
    listed = app_client(emu)("GET", "/print/printers/%s/jobs"
                             % pid).json()["value"]
    assert sorted(j["id"] for j in listed) == sorted(everyone)
    other = next(j for j, upn in everyone.items() if upn != BOB)
    assert_refused(bob("GET", "/print/printers/%s/jobs/%s" % (pid, other)),
                   403, codes=("accessDenied",))
    assert_refused(bob("GET", "/print/printers/%s/jobs/%s/documents"
                       % (pid, other)), 403)
    assert bob("GET", "/print/printers/%s/jobs/%s" % (pid, mine[0])) \
        .status == 200
    # The share's path is the same (its list page: "To read print jobs
    # from another user, the signed in user needs to be a print
    # administrator and have the PrintJob...All permission").
    share = emu.share_by_name("Floor3")
    on_share = {j["id"]: j["createdBy"] for j in emu.jobs(shareId=share["id"])}
    assert set(on_share.values()) > {BOB}
    listed = bob("GET", "/print/shares/%s/jobs" % share["id"]).json()["value"]
    assert sorted(j["id"] for j in listed) == sorted(
        j for j, upn in on_share.items() if upn == BOB)
    other = next(j for j, upn in on_share.items() if upn != BOB)
    assert_refused(bob("GET", "/print/shares/%s/jobs/%s"
                       % (share["id"], other)), 403, codes=("accessDenied",))
    listed = admin("GET", "/print/shares/%s/jobs" % share["id"]).json()["value"]
    assert sorted(j["id"] for j in listed) == sorted(on_share)
    # The role alone is not enough: an administrator's token without a
    # .All job scope reads their own jobs only, on either path.
    status, out = emu.call("POST", "/_emulator/token",
                           {"upn": ADMIN, "scp": "PrintJob.ReadWrite "
                            "Printer.Read.All PrinterShare.ReadWrite.All"})
    assert status == 200, out
    narrow = Client(emu, out["access_token"])
    for path in ("/print/shares/%s/jobs" % share["id"],
                 "/print/printers/%s/jobs" % pid):
        listed = narrow("GET", path).json()["value"]
        assert listed and all(j["createdBy"]["userPrincipalName"] == ADMIN
                              for j in listed), path
        assert len(listed) < len(admin("GET", path).json()["value"]), path
        assert_refused(narrow("GET", "%s/%s" % (path, other)), 403,
                       codes=("accessDenied",))
    # A document's bytes: PrintJob.Read.All or .ReadWrite.All, not Basic.
    did = admin.ok("GET", "/print/printers/%s/jobs/%s/documents"
                   % (pid, other))["value"][0]["id"]
    value = "/print/printers/%s/jobs/%s/documents/%s/$value" % (pid, other, did)
    assert_refused(narrow("GET", value), 403, codes=("accessDenied",))
    status, out = emu.call("POST", "/_emulator/token",
                           {"upn": ADMIN, "scp": "PrintJob.ReadBasic.All"})
    assert status == 200, out
    basic = Client(emu, out["access_token"])
    assert basic("GET", "/print/printers/%s/jobs/%s" % (pid, other)) \
        .status == 200
    assert_refused(basic("GET", value), 403)     # the scope itself (§3.0)
    assert admin("GET", value).status in (200, 302)


def test_requests_count_each_get_by_url(emu, admin):
    """?urls=1 counts each Graph GET by its path and query as sent, so a
    benchmark sees a listing page fetched twice."""
    emu.reset_requests()
    first = admin.ok("GET", "/print/printers?$top=1")
    parts = urllib.parse.urlsplit(first["@odata.nextLink"])
    assert request(emu, "GET", first["@odata.nextLink"],
                   token=admin.token).status == 200
    admin.ok("GET", "/print/printers?$top=1")
    admin.ok("GET", "/print/settings")
    assert admin("PATCH", "/print/settings", {}).status in (200, 204)
    status, out = emu.call("GET", "/_emulator/requests?urls=1")
    assert status == 200, out
    assert out["urls"] == {
        "/v1.0/print/printers?$top=1": {"route": "GET /print/printers",
                                         "count": 2},
        "%s?%s" % (parts.path, parts.query): {
            "route": "GET /print/printers", "count": 1},
        "/v1.0/print/settings": {"route": "GET /print/settings",
                                 "count": 1}}, out
    assert out["urlsUncounted"] == 0
    assert out["routes"]["GET /print/printers"] == 3
    assert "urls" not in emu.requests()
    emu.reset_requests()
    assert emu.call("GET", "/_emulator/requests?urls=1")[1]["urls"] == {}


def test_gets_past_the_url_limit_are_counted_but_not_by_url(monkeypatch):
    """The per-URL counts keep at most URL_LIMIT distinct URLs (a walk of a
    big tenant must not grow the emulator without bound): later new URLs
    still count in the total and by route, and ?urls=1 says how many went
    uncounted, so a benchmark can tell its per-URL figures are partial."""
    monkeypatch.syspath_prepend(os.path.join(util.REPO_DIR, "tools"))
    from emulator import metrics
    monkeypatch.setattr(metrics, "URL_LIMIT", 2)
    counter = metrics.Counter()
    for url in ("/v1.0/a", "/v1.0/b", "/v1.0/c", "/v1.0/a", "/v1.0/d"):
        counter.count("GET", "/x", url)
    counter.count("POST", "/x", "/v1.0/e")
    out = counter.snapshot(urls=True)
    assert out["urls"] == {"/v1.0/a": {"route": "GET /x", "count": 2},
                           "/v1.0/b": {"route": "GET /x", "count": 1}}, out
    assert out["urlsUncounted"] == 2
    assert (out["total"], out["routes"]) == \
        (6, {"GET /x": 5, "POST /x": 1}), out


def test_the_job_quota_counts_recent_jobs_only(start_emulator):
    """--job-quota N: the N+1st job a user creates within 12 days is
    refused with quotaLimitReached. Alice's 5 seeded jobs are from 2024:
    the first of her 6 allowed creates is decided by her job count alone,
    the others by the dates of her jobs."""
    emu = start_emulator("demo", extra_args=["--job-quota", "6"])
    alice = delegated(emu, ALICE)
    share = emu.share_by_name("Floor3")
    path = "/print/shares/%s/jobs" % share["id"]
    for _ in range(6):
        r = alice("POST", path, {"configuration": {}})
        assert r.status == 201, r.data
    r = alice("POST", path, {"configuration": {}})
    assert_refused(r, 403, "limit", codes=("quotaLimitReached",))


@pytest.mark.parametrize("size", [100, 200 * 1024],
                         ids=["read", "spliced"])
def test_a_put_cut_short_is_dropped_and_its_range_freed(emu, size):
    """A client that sends fewer bytes than its Content-Length and hangs
    up gets no reply and leaves nothing behind: the same range PUT again
    completes the document (both the read body and the spliced one)."""
    data = b"%PDF-1.7\n" + os.urandom(size - 16) + b"\n%%EOF\n"
    _, job, _, upload = open_upload(emu, "cut.pdf", data)
    url = urllib.parse.urlsplit(upload)
    head = ("PUT %s?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            "Content-Range: bytes 0-%d/%d\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
            % (url.path, url.query, size, size - 1, size))
    with socket.create_connection((url.hostname, url.port),
                                  timeout=util.scaled(30)) as sock:
        sock.sendall(head.encode("iso-8859-1") + data[:size // 2])
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            got = sock.recv(65536)
            if not got:
                break
            out += got
    assert out == b"", out[:300]
    r = request(emu, "PUT", upload, data, headers={
        "Content-Range": "bytes 0-%d/%d" % (size - 1, size),
        "Content-Type": "application/octet-stream"})
    assert r.status == 201, r.data
    assert emu.job_document(job["id"])["sha256"] == \
        hashlib.sha256(data).hexdigest()


def raw_exchange(emu, head):
    """Sends head (a request without body) on a new connection; returns
    everything the emulator wrote until it closed the connection."""
    parts = urllib.parse.urlsplit(emu.base)
    with socket.create_connection((parts.hostname, parts.port),
                                  timeout=util.scaled(30)) as sock:
        sock.sendall(head.encode("iso-8859-1"))
        out = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return out.decode("iso-8859-1")
            out += data


def test_a_url_inside_a_path_is_part_of_the_path(emu, admin):
    """A request line in absolute form ("GET http://host/v1.0/... ") is
    served as its path; a path that only holds a URL further in (a client
    that took a link for a path: base + "/v1.0/http://...") names a
    segment Graph does not have, a 400 as Graph answers."""
    out = raw_exchange(emu, "GET %s/v1.0/print/printers HTTP/1.1\r\n"
                       "Host: x\r\nAuthorization: Bearer %s\r\n"
                       "Connection: close\r\n\r\n" % (emu.base, admin.token))
    assert out.startswith("HTTP/1.1 200 "), out[:300]
    r = request(emu, "GET", "%s/v1.0/%s/v1.0/print/printers"
                % (emu.base, emu.base), token=admin.token)
    assert_refused(r, 400, "http:")


def test_request_headers_are_read_as_http_says(emu, admin):
    """Names in any case, a folded value, the first of a repeated field,
    Connection: close; a line that is no field is a 400."""
    head = ("GET /v1.0/print/settings HTTP/1.1\r\nHOST: x\r\n"
            "authorization: Bearer\r\n %s\r\nAuthorization: Bearer bad\r\n"
            "Connection: close\r\n\r\n" % admin.token)
    out = raw_exchange(emu, head)
    assert out.startswith("HTTP/1.1 200 "), out[:300]
    assert out.count("HTTP/1.1 ") == 1
    head = ("GET /v1.0/print/settings HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\nauthorization: Bearer\r\n bad\r\n"
            "Connection: close\r\n\r\n" % admin.token)
    out = raw_exchange(emu, head)
    assert out.startswith("HTTP/1.1 200 "), out[:300]
    for bad in ("no colon here", "Accept : */*"):
        out = raw_exchange(emu, "GET /v1.0/print/settings HTTP/1.1\r\n"
                                "Host: x\r\n%s\r\n\r\n" % bad)
        assert out.startswith("HTTP/1.1 400 "), (bad, out[:300])


def test_a_job_id_repeated_on_another_printer(emu, admin):
    """The service numbers jobs per printer, the emulator tenant-wide; a
    job added with another printer's job id is listed, read and canceled
    under its own printer and share, and leaves the first job as it was."""
    first = emu.job("101")
    other = next(j for j in emu.jobs()
                 if j["shareId"] and j["printerId"] != first["printerId"])
    other = {"id": other["shareId"], "printerId": other["printerId"]}
    twin = emu.add_job(shareId=other["id"], id="101", state="pending",
                       documentName="twin.pdf")
    key = "101@" + other["printerId"]
    assert (twin["id"], twin["key"]) == ("101", key)
    assert emu.job(key)["documentName"] == "twin.pdf"
    assert emu.job("101") == first
    for owner, oid, name in (("printers", first["printerId"],
                              first["documentName"]),
                             ("printers", other["printerId"], "twin.pdf"),
                             ("shares", other["id"], "twin.pdf")):
        r = admin("GET", "/print/%s/%s/jobs/101?$expand=documents"
                  % (owner, oid))
        assert r.status == 200, r.data
        assert r.json()["documents"][0]["displayName"] == name
        listed = admin("GET", "/print/%s/%s/jobs?$expand=documents"
                       % (owner, oid)).json()
        assert [j["documents"][0]["displayName"] for j in listed["value"]
                if j["id"] == "101"] == [name]
    pages, url = [], "/print/printers/%s/jobs?$top=1" % other["printerId"]
    while url:
        page = admin("GET", url.replace(emu.endpoint, ""))
        assert page.status == 200, page.data
        pages += [j["id"] for j in page.json()["value"]]
        url = page.json().get("@odata.nextLink")
    assert pages.count("101") == 1 and len(pages) == len(
        emu.jobs(printerId=other["printerId"])), pages
    r = admin("GET", "/reports/getPrinterArchivedPrintJobs(printerId='%s',"
              "startDateTime=2000-01-01T00:00:00Z,"
              "endDateTime=2100-01-01T00:00:00Z)" % other["printerId"])
    assert r.status == 200, r.data
    r = admin("POST", "/print/shares/%s/jobs/101/cancel" % other["id"])
    assert r.status == 204, r.data
    assert emu.job(key)["state"] == "canceled"
    assert emu.job("101") == first
    for bad in ("101", "abc", "987654"):    # "987654": no job has it
        status, _ = emu.call("POST", "/_emulator/jobs",
                             {"shareId": other["id"], "id": bad})
        assert status == 400, bad
    assert emu.call("DELETE", "/_emulator/jobs/101")[0] == 204
    r = admin("GET", "/print/shares/%s/jobs/101" % other["id"])
    assert r.status == 200 and r.json()["id"] == "101", r.data
    assert emu.call("DELETE", "/_emulator/jobs/" + key)[0] == 204
    r = admin("GET", "/print/shares/%s/jobs/101" % other["id"])
    assert r.status == 404, r.data


def test_a_printers_next_job_id(emu, admin):
    """nextJobId gives a printer's next new job that id, which may be
    another printer's job's: the new job is then kept under its key."""
    first = emu.job("101")
    other = next(j for j in emu.jobs()
                 if j["shareId"] and j["printerId"] != first["printerId"])
    for bad in (101, "x1", None):
        status, _ = emu.call("PATCH", "/_emulator/printers/"
                             + other["printerId"], {"nextJobId": bad})
        assert status == 400, bad
    emu.patch_printer(other["printerId"], nextJobId="101")
    r = admin("POST", "/print/shares/%s/jobs" % other["shareId"],
              {"configuration": {}})
    assert r.status == 201 and r.json()["id"] == "101", r.data
    made = emu.job("101@" + other["printerId"])
    assert (made["printerId"], made["state"]) == (other["printerId"],
                                                  "paused")
    assert emu.job("101") == first
    r = admin("POST", "/print/shares/%s/jobs" % other["shareId"],
              {"configuration": {}})
    assert r.status == 201 and r.json()["id"] != "101", r.data
    emu.patch_printer(first["printerId"], nextJobId="101")
    r = admin("POST", "/print/printers/%s/jobs" % first["printerId"],
              {"configuration": {}})
    assert r.status == 400, r.data


def test_fault_rules_joined_with_a_semicolon(emu, admin):
    """Each rule of a spec has its own faults, target and counts; a
    request gets the fault of the first rule that fires for it."""
    emu.set_faults("503:1,method=GET,route=/print/printers$;"
                   "404:1,route=/print/shares$,times=1;"
                   "500:1,route=/print/printers$")
    assert admin("GET", "/print/printers").status == 503
    assert admin("GET", "/print/shares").status == 404
    assert admin("GET", "/print/shares").status == 200
    assert admin("GET", "/print/printers").status == 503
    assert admin("GET", "/print/settings").status == 200
    status, _ = emu.call("POST", "/_emulator/faults",
                         {"spec": "503:1;bogus:1"})
    assert status == 400
    assert emu.call("GET", "/_emulator/faults")[1]["spec"].startswith(
        "503:1,method=GET")


def test_fault_history_and_a_retry_after_on_a_504(emu, admin):
    """A 500, 502 or 504 takes a Retry-After as 503 does; every request a
    rule counts is in the history, with the fault it got."""
    emu.set_faults("504:1:7,route=/print/settings,times=1;"
                   "502:1,route=/print/shares$,times=1")
    first = admin("GET", "/print/settings")
    assert first.status == 504 and first.headers["retry-after"] == "7"
    assert admin("GET", "/print/settings").status == 200
    shares = admin("GET", "/print/shares")
    assert shares.status == 502 and "retry-after" not in shares.headers
    assert admin("GET", "/print/printers").status == 200
    history = emu.call("GET", "/_emulator/faults")[1]["history"]
    assert [(h["path"], h["fault"], h["throttled"]) for h in history] == [
        ("/v1.0/print/settings", "504", False),
        ("/v1.0/print/settings", None, False),
        ("/v1.0/print/shares", "502", False)]
    assert history[0]["t"] <= history[1]["t"]


def test_a_token_that_may_not_read_printers_gets_shares_without_one(emu,
                                                                    admin):
    """A share's $expand=printer is left out for a token without
    Printer.Read.All (or ReadWrite.All, FullControl.All), in a list and a
    GET alike, and GET /print/shares/{id}/printer is refused (403)."""
    scopes = "PrinterShare.ReadWrite.All PrintJob.ReadWrite.All"
    status, out = emu.call("POST", "/_emulator/token",
                           {"upn": ADMIN, "scp": scopes})
    assert status == 200, out
    plain = Client(emu, out["access_token"])
    share = admin.ok("GET", "/print/shares?$expand=printer")["value"][0]
    assert share["printer"]["id"]
    one = "/print/shares/%s?$expand=printer" % share["id"]
    assert admin.ok("GET", one)["printer"]["id"] == share["printer"]["id"]
    assert "printer" not in plain.ok("GET", one)
    assert all("printer" not in s for s in plain.ok(
        "GET", "/print/shares?$expand=printer")["value"])
    assert_refused(plain("GET", "/print/shares/%s/printer" % share["id"]),
                   403, "scopes", codes=["UnknownError"])
    assert admin.ok("GET", "/print/shares/%s/printer" % share["id"])["id"] \
        == share["printer"]["id"]


# --- scopes (reference §3.0) -------------------------------------------------

def scoped(emu, scp):
    status, out = emu.call("POST", "/_emulator/token",
                           {"upn": ADMIN, "scp": scp})
    assert status == 200, out
    return Client(emu, out["access_token"])


@pytest.mark.parametrize("call,lacking,enough", [
    (("GET", "/print/printers"), "PrinterShare.ReadWrite.All",
     "Printer.Read.All"),
    (("DELETE", "/print/printers/{printer}"), "Printer.ReadWrite.All",
     "Printer.FullControl.All"),
    (("PATCH", "/print/connectors/{connector}", {"displayName": "C2"}),
     "PrintConnector.Read.All", "PrintConnector.ReadWrite.All"),
    (("GET", "/print/connectors"), "Printer.ReadWrite.All",
     "PrintConnector.Read.All"),
    (("GET", "/print/shares"), "PrintJob.ReadWrite.All",
     "PrinterShare.ReadBasic.All"),
    (("POST", "/print/shares/{share}/allowedUsers/$ref",
      {"@odata.id": "https://graph.microsoft.com/v1.0/users/{carol}"}),
     "PrinterShare.Read.All", "PrinterShare.ReadWrite.All"),
    (("GET", "/print/shares/{share}/jobs"), "PrinterShare.ReadWrite.All",
     "PrintJob.ReadBasic"),
    (("POST", "/print/shares/{share}/jobs",
      {"configuration": {}, "documents": [{"displayName": "s.pdf"}]}),
     "PrintJob.Read.All", "PrintJob.Create"),
    (("GET", "/print/settings"), "Printer.FullControl.All",
     "PrintSettings.Read.All"),
    (("PATCH", "/print/settings", {"documentConversionEnabled": False}),
     "PrintSettings.Read.All", "PrintSettings.ReadWrite.All"),
], ids=["list-printers", "unregister", "rename-connector", "connectors",
        "shares", "add-user", "share-jobs", "create-job", "settings",
        "patch-settings"])
def test_a_call_takes_one_of_its_scopes(emu, admin, call, lacking, enough):
    """A delegated token without any scope the reference lists for a call
    gets the service's missing-scope 403 (§5.2); one of them is enough."""
    share = admin.ok("GET", "/print/shares")["value"][0]["id"]
    names = {
        "share": share,
        "printer": emu.add_printer(displayName="Scoped")["id"],
        "connector": emu.state()["connectors"][0]["id"],
        "carol": [u["id"] for u in emu.state()["users"]
                  if u["userPrincipalName"].startswith("carol@")][0],
    }
    method, path = call[0], call[1].format(**names)
    body = json.loads(json.dumps(call[2]).replace(
        "{carol}", names["carol"])) if len(call) > 2 else None
    assert_refused(scoped(emu, lacking)(method, path, body), 403,
                   "required security scopes", codes=["UnknownError"])
    r = scoped(emu, enough)(method, path, body)
    assert r.status < 300, (r.status, r.data)


def test_a_sign_in_grants_the_scopes_it_asks_for(emu):
    """The token endpoint grants the Graph scopes asked for (all of them
    for .default), and a refresh that names none keeps the first ones."""
    base = emu.authority + "/oauth2/v2.0/token"

    def grant(form):
        r = request(emu, "POST", base,
                    urllib.parse.urlencode(form).encode(), headers={
                        "Content-Type": "application/x-www-form-urlencoded"})
        return r.status, r.json()

    refresh = emu.call("POST", "/_emulator/token",
                       {"upn": ADMIN, "scp": "Printer.Read.All"})[1][
                           "refresh_token"]
    status, out = grant({"grant_type": "refresh_token",
                         "client_id": "upfs-emulator",
                         "refresh_token": refresh,
                         "scope": "offline_access https://graph.microsoft."
                                  "com/PrintJob.Create openid"})
    assert status == 200, out
    assert out["scope"] == "PrintJob.Create"
    plain = Client(emu, out["access_token"])
    assert_refused(plain("GET", "/print/printers"), 403,
                   "required security scopes", codes=["UnknownError"])
    status, out = grant({"grant_type": "refresh_token",
                         "client_id": "upfs-emulator",
                         "refresh_token": out["refresh_token"]})
    assert status == 200, out
    assert out["scope"] == "PrintJob.Create"
    status, out = grant({"grant_type": "refresh_token",
                         "client_id": "upfs-emulator",
                         "refresh_token": out["refresh_token"],
                         "scope": "https://graph.microsoft.com/.default "
                                  "offline_access"})
    assert status == 200, out
    assert "Printer.FullControl.All" in out["scope"].split()
    assert Client(emu, out["access_token"]).ok("GET", "/print/printers")

