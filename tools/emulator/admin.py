"""The /print write side for administrators (reference §2.4-§2.10, §2.20,
§2.21, §3.1, §3.5, §8.2): register a printer (a long-running operation),
update a printer, restore its factory defaults, unregister it; update and
delete connectors; update the tenant's print settings.

Who may call. A delegated caller must be a Printer Administrator
(printing.is_admin; see sharing.py), checked before anything else, so a
non-admin learns nothing about which printers or connectors exist: 403
accessDenied. App-only tokens get 403 accessDenied from the router on
every route here except PATCH /print/printers/{id}: application
permissions may update a printer that the same application registered
(the `appid` of the token that called POST /print/printers/create, or
`_registeredByApp` of a seeded printer: the demo tenant's "Pull Print
(virtual)" is upfs-demo-app's, the client /_emulator/token mints app
tokens for by default) and that has no physical device; anything else is
403 accessDenied (the reference states the rule, not the status: the
emulator's choice).

Routes:

  POST   /print/printers/create               202, no body; headers
         Operation-Location: {graph base}/print/operations/{opId} and
         Retry-After: 1 (always: the service sends a fixed 5, the
         emulator's operations are short).
  PATCH  /print/printers/{id}                 200 the printer, shaped as
         GET /print/printers/{id} shapes it ($select honoured; capabilities
         only when selected).
  POST   /print/printers/{id}/restoreFactoryDefaults   204; defaults become
         those the printer was registered (or seeded) with.
  DELETE /print/printers/{id}                 204; its shares and jobs go
         too (State.delete_printer, as DELETE /_emulator/printers/{id}),
         with their upload sessions and uploaded documents.
  PATCH  /print/settings                      204, empty.
  PATCH  /print/connectors/{id}               200 the connector.
  DELETE /print/connectors/{id}               204.

Printer registration. The body is checked (below); the reply is 202 and
a printerCreateOperation (GET /print/operations/{id}) exists at once,
status.state "running" until --operation-seconds (default 1; also
"operationSeconds" of POST /_emulator) have passed. Then State.tick, at
the next request, registers the printer (records.complete_printer_create):
it appears in /print/printers, not shared, status unknown, isAcceptingJobs
null, an empty location, the capabilities and defaults of a generic PDF
printer (profiles.generic_pdf, which become its factory defaults),
connectorId's connector if one was given; the operation turns
"succeeded" with a fake PEM `certificate` and the printer inline. The
service's failure cases (a device already registered, a bad CSR) are not
known well enough to emulate: every operation succeeds.

PATCH semantics. `defaults`, `location`, `capabilities` and `status` merge
member by member (a member not sent keeps its value); a member sent as
null is cleared, and a collection is cleared with [] (OData refuses null
for a collection-valued property: 400, as Graph's reader answers). Everything is checked
before anything changes. Writable properties: delegated `defaults`,
`location`, `displayName`; application `defaults`, `capabilities`,
`displayName`, `manufacturer`, `model`, `status`, `isAcceptingJobs`.
Connectors: `displayName`, `fullyQualifiedDomainName`, `operatingSystem`,
`appVersion`, `location`. Settings: `documentConversionEnabled`. An
`@odata.type` naming the resource's own type is tolerated. The beta legacy
names (printer `name`, location `floorNumber`, ...) are refused like any
property the v1.0 type lacks.

Refusals (status, error code, when):
  400 invalidRequest   a property the type lacks; a read-only property (id,
                       isShared, registeredDateTime, hasPhysicalDevice,
                       lastSeenDateTime, a navigation; a connector's
                       registeredDateTime) or one this kind of caller may
                       not change; a value of the wrong JSON type; an empty
                       displayName; a default the printer's capabilities do
                       not list (colorMode not in colorModes, duplexMode not
                       in duplexModes, mediaSize, mediaType, mediaColor,
                       inputBin, outputBin, dpi, pagesPerSheet, quality,
                       orientation, scaling, multipageLayout, contentType,
                       finishings; copiesPerJob outside the copiesPerJob
                       range; fitPdfToPage true without supportsFitPdfToPage),
                       or not a member of its enum at all; a location floor
                       or roomName that is not all digits (§2.9);
                       restoreFactoryDefaults with parameters; create: a
                       missing displayName/manufacturer/model/
                       certificateSigningRequest(.content, .transportKey),
                       physicalDeviceId missing while hasPhysicalDevice is
                       true (or omitted: it defaults to true), connectorId
                       naming no connector, a parameter the action lacks.
                       The message names the field ("defaults.colorMode").
  403 accessDenied     above.
  404 itemNotFound     no such printer or connector.
  409 conflict         DELETE of a connector printers are still registered
                       through: "Before deleting the connector, please
                       unregister the associated printers." (§3.5; the code
                       is the emulator's choice).

A capability an application PATCHes is checked for type and enum
membership only; the defaults of the same request are then checked against
the new capabilities (defaults not sent are not re-checked)."""

import copy
import re
import time

from . import graph_print, odata, printing, records, render, schema, util
from .wire import GraphError, Reply

PRINTER_TYPE = "#microsoft.graph.printer"
USER_WRITABLE = ("defaults", "location", "displayName")
APP_WRITABLE = ("defaults", "capabilities", "displayName", "manufacturer",
                "model", "status", "isAcceptingJobs")
CONNECTOR_WRITABLE = ("displayName", "fullyQualifiedDomainName",
                      "operatingSystem", "appVersion", "location")
CREATE_PARAMETERS = ("displayName", "manufacturer", "model",
                     "physicalDeviceId", "hasPhysicalDevice",
                     "certificateSigningRequest", "connectorId")
CONNECTOR_BUSY = ("Before deleting the connector, please unregister the "
                  "associated printers.")
DIGITS = re.compile(r"[0-9]+")
RETRY_AFTER = "1"               # seconds, on the 202 of printer create


def _bad(message):
    return GraphError(400, "invalidRequest", message)


def _null_collection(key, of):
    """Graph's OData reader refuses null for a collection: it may hold
    nulls, but cannot itself be null."""
    return _bad("A null value was found for the property named '%s', which "
                "has the expected type 'Collection(%s)[Nullable=False]'. "
                "The expected type 'Collection(%s)[Nullable=False]' cannot "
                "be null but it can have null values." % (key, of, of))


def _admin(req, state, what):
    """The caller, who must be a Printer Administrator (else 403)."""
    user = printing.caller(req, state)
    if not printing.is_admin(user):
        raise GraphError(
            403, "accessDenied",
            "User '%s' is not a Printer Administrator; %s needs that role."
            % (user["userPrincipalName"], what))
    return user


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _want(field, what):
    return _bad("%s must be %s." % (field, what))


def _check_type(body, type_name, own_type):
    """Drops a tolerated @odata.type; 400 for another."""
    body = dict(body)
    if "@odata.type" in body:
        if body.pop("@odata.type") != own_type:
            raise _bad("@odata.type must be %s here." % own_type)
    return body


def _unknown(key, type_name):
    return _bad("The property '%s' does not exist on type "
                "'microsoft.graph.%s'." % (key, type_name))


# --- member checks -----------------------------------------------------------

def _enum(field, value, key):
    """value must be a member of the enum of schema.CONFIG_ENUMS[key]."""
    type_name, members, _ = schema.CONFIG_ENUMS[key]
    if not isinstance(value, str):
        raise _want(field, "a %s string" % type_name)
    if value not in members:
        raise _bad("Cannot convert the literal '%s' to the expected type "
                   "'microsoft.graph.%s' (%s)." % (value, type_name, field))


def _listed(field, value, cap, allowed, fold=False):
    """value as the capability list spells it; 400 if it is not there."""
    for item in allowed or []:
        if item == value or (fold and isinstance(item, str)
                             and item.lower() == value.lower()):
            return item
    raise _bad("%s %s is not supported by the printer (capabilities.%s: "
               "%s)." % (field, _show(value), cap,
                         ", ".join(map(str, allowed or [])) or "none"))


def _show(value):
    return "'%s'" % value if isinstance(value, str) else str(value)


def _default(key, value, caps):
    """A printerDefaults member checked against the capabilities."""
    kind, cap = schema.DEFAULTS[key]
    field = "defaults." + key
    allowed = caps.get(cap)
    if kind.startswith("enum:"):
        _enum(field, value, kind[5:])
        return _listed(field, value, cap, allowed)
    if kind == "enums":
        if not isinstance(value, list):
            raise _want(field, "an array of printFinishing strings")
        for item in value:
            _enum(field, item, "finishings")
            _listed(field, item, cap, allowed)
        return list(value)
    if kind == "str":
        if not isinstance(value, str):
            raise _want(field, "a string")
        return _listed(field, value, cap, allowed, fold=key == "contentType")
    if kind == "int":
        if not _is_int(value):
            raise _want(field, "an integer")
        return _listed(field, value, cap, allowed)
    if kind == "range":
        if not _is_int(value):
            raise _want(field, "an integer")
        rng = allowed if isinstance(allowed, dict) else {}
        low, high = rng.get("start"), rng.get("end")
        if not _is_int(low) or not _is_int(high) or \
                not low <= value <= high:
            raise _bad("%s %d is outside the printer's range %s-%s "
                       "(capabilities.copiesPerJob)." % (field, value, low,
                                                         high))
        return value
    if not isinstance(value, bool):                 # kind == "bool"
        raise _want(field, "true or false")
    if value and not allowed:
        raise _bad("%s: the printer does not support fitting PDFs to the "
                   "page (capabilities.supportsFitPdfToPage is not true)."
                   % field)
    return value


def _capability(key, value):
    kind = schema.CAPABILITIES[key]
    field = "capabilities." + key
    if kind == "bool":
        if not isinstance(value, bool):
            raise _want(field, "true or false")
        return value
    if kind == "range":
        if not isinstance(value, dict) or set(value) - {"start", "end"} \
                or not _is_int(value.get("start")) \
                or not _is_int(value.get("end")) \
                or not 1 <= value["start"] <= value["end"]:
            raise _want(field, "an integerRange {\"start\": n, \"end\": m} "
                        "with 1 <= n <= m")
        return dict(value)
    if not isinstance(value, list):
        raise _want(field, "an array")
    for item in value:
        if kind == "strs" and not isinstance(item, str):
            raise _want(field, "an array of strings")
        if kind == "ints" and not _is_int(item):
            raise _want(field, "an array of integers")
        if kind.startswith("enums:"):
            _enum(field, item, kind[6:])
    return list(value)


def _location_member(key, value, field):
    kind = schema.LOCATION[key]
    if kind in ("str", "digits"):
        if not isinstance(value, str):
            raise _want(field, "a string")
        if kind == "digits" and not DIGITS.fullmatch(value):
            raise _bad("%s '%s' is not accepted: %s takes only digits for "
                       "now (e.g. \"3\")." % (field, value, key))
    elif kind == "int" and not _is_int(value):
        raise _want(field, "an integer")
    elif kind == "number" and not _is_number(value):
        raise _want(field, "a number")
    elif kind == "strs" and (not isinstance(value, list) or not all(
            isinstance(item, str) for item in value)):
        raise _want(field, "an array of strings")
    return list(value) if kind == "strs" else value


def _merged(field, old, patch, type_name, check, cleared):
    """old (a dict or None) with patch's members checked by
    check(key, value) and merged; null clears a member to cleared(key)."""
    if not isinstance(patch, dict):
        raise _want(field, "a %s object" % type_name)
    patch = _check_type(patch, type_name, "#microsoft.graph." + type_name)
    out = dict(old or {})
    for key, value in patch.items():
        out[key] = cleared(key) if value is None else check(key, value)
    return out


def _defaults(old, patch, caps):
    def check(key, value):
        if key not in schema.DEFAULTS:
            raise _unknown(key, "printerDefaults")
        return _default(key, value, caps)

    def cleared(key):
        if key not in schema.DEFAULTS:
            raise _unknown(key, "printerDefaults")
        if key == "finishings":
            raise _null_collection(key, "microsoft.graph.printFinishing")
        return None
    return _merged("defaults", old, patch, "printerDefaults", check, cleared)


def _capabilities(old, patch):
    def check(key, value):
        if key not in schema.CAPABILITIES:
            raise _unknown(key, "printerCapabilities")
        return _capability(key, value)

    def cleared(key):
        if key not in schema.CAPABILITIES:
            raise _unknown(key, "printerCapabilities")
        kind = schema.CAPABILITIES[key]
        if kind not in ("bool", "range"):
            raise _null_collection(key, "Edm.String")
        return None
    return _merged("capabilities", old, patch, "printerCapabilities", check,
                   cleared)


def location(old, patch, field="location"):
    """A printerLocation PATCH merged into old (the docs' `subUnit`
    spelling accepted, the schema's `subunit` stored)."""
    def check(key, value):
        if key not in schema.LOCATION:
            raise _unknown(key, "printerLocation")
        return _location_member(key, value, "%s.%s" % (field, key))

    def cleared(key):
        if key not in schema.LOCATION:
            raise _unknown(key, "printerLocation")
        if schema.LOCATION[key] == "strs":
            raise _null_collection(key, "Edm.String")
        return None
    if isinstance(patch, dict) and "subUnit" in patch:
        if "subunit" in patch:
            raise _bad("%s has both subunit and subUnit; send one." % field)
        patch = records.normalize_location(patch)
    return _merged(field, old, patch, "printerLocation", check, cleared)


def _status(old, patch):
    def check(key, value):
        if key == "state":
            if value not in schema.PRINTER_STATES:
                raise _bad("Cannot convert the literal %s to the expected "
                           "type 'microsoft.graph.printerProcessingState' "
                           "(status.state)." % _show(value))
            return value
        if key == "details":
            # printerProcessingStateDetail has 826 members and the docs use
            # strings outside them ("disconnected"): any string is taken.
            if not isinstance(value, list) or not all(
                    isinstance(item, str) for item in value):
                raise _want("status.details", "an array of strings")
            return list(value)
        if key == "description":
            if not isinstance(value, str):
                raise _want("status.description", "a string")
            return value
        raise _unknown(key, "printerStatus")

    def cleared(key):
        if key in ("state", "details"):
            raise _bad("status.%s cannot be null." % key)
        if key != "description":
            raise _unknown(key, "printerStatus")
        return None
    return _merged("status", old, patch, "printerStatus", check, cleared)


def _name(field, value, nullable=False):
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _want(field, "a non-empty string")
    return value


# --- printers ----------------------------------------------------------------

def _printer_fields(body, rec, writable, kind):
    """The new values of the printer properties body changes (checked,
    nothing changed yet)."""
    body = _check_type(body, "printer", PRINTER_TYPE)
    for key in body:
        if key in writable:
            continue
        if key not in schema.PROPERTIES["printer"]:
            raise _unknown(key, "printer")
        if key in USER_WRITABLE + APP_WRITABLE:
            raise _bad("The property '%s' of a printer cannot be updated "
                       "with %s permissions; only %s can." % (
                           key, kind, ", ".join(writable)))
        raise _bad("The property '%s' of a printer is read-only." % key)
    out = {}
    caps = rec.get("capabilities") or {}
    if "capabilities" in body:
        caps = out["capabilities"] = _capabilities(caps,
                                                   body["capabilities"])
    if "defaults" in body:
        out["defaults"] = _defaults(rec.get("defaults"), body["defaults"],
                                    caps)
    if "location" in body:
        out["location"] = location(rec.get("location"), body["location"])
    if "status" in body:
        out["status"] = _status(rec.get("status"), body["status"])
    if "displayName" in body:
        out["displayName"] = _name("displayName", body["displayName"])
    for key in ("manufacturer", "model"):
        if key in body:
            out[key] = _name(key, body[key], nullable=True)
    if "isAcceptingJobs" in body:
        value = body["isAcceptingJobs"]
        if value is not None and not isinstance(value, bool):
            raise _want("isAcceptingJobs", "true, false or null")
        out["isAcceptingJobs"] = value
    return out


def _app_may_update(req, rec):
    if rec.get("_registeredByApp") != req.claims.get("appid"):
        raise GraphError(
            403, "accessDenied",
            "Only the application that registered printer '%s' may update "
            "it with application permissions." % rec["id"])
    if rec.get("hasPhysicalDevice"):
        raise GraphError(
            403, "accessDenied",
            "Printer '%s' has a physical device; only printers without one "
            "can be updated with application permissions." % rec["id"])


def update_printer(req, state):
    app_caller = req.claims.get("kind") == "app"
    with state.lock:
        if not app_caller:
            _admin(req, state, "updating printers")
        q = odata.Query(req.raw_query, {"$select"}, "printer")
        rec = state.printer(req.params["id"])
        if app_caller:
            _app_may_update(req, rec)
        writable = APP_WRITABLE if app_caller else USER_WRITABLE
        change = _printer_fields(req.json(), rec, writable,
                                 "application" if app_caller else
                                 "delegated")
        rec.update(change)
        obj = render.printer(state, req, rec, q.select, single=True)
    return graph_print.entity(req, "print/printers", obj, q.select)


def restore_defaults(req, state):
    with state.lock:
        _admin(req, state, "restoring a printer's factory defaults")
        rec = state.printer(req.params["id"])
        if req.json():
            raise _bad("restoreFactoryDefaults takes no parameters; send "
                       "no body.")
        rec["defaults"] = copy.deepcopy(rec.get("_factoryDefaults"))
    return Reply(204)


def unregister_printer(app, state, pid):
    """Deletes printer pid with its shares and jobs (State.delete_printer)
    and the jobs' upload sessions and uploaded documents. Raises 404 for
    an unknown printer. Call without holding State.lock."""
    with state.lock:
        jids = list(state.jobs_by_printer.get(pid, []))
        dids = [d["id"] for j in jids if j in state.jobs.by_id
                for d in state.jobs.by_id[j]["documents"]]
        state.delete_printer(pid)
        for jid in jids:
            app.uploads.drop_job(state, jid)
    for did in dids:
        app.uploads.forget_document(did)


def delete_printer(req, state):
    with state.lock:
        _admin(req, state, "unregistering printers")
        rec = state.printer(req.params["id"])
    unregister_printer(req.app, state, rec["id"])
    return Reply(204)


def _create_request(state, body):
    """The checked parameters of POST /print/printers/create."""
    for key in body:
        if key not in CREATE_PARAMETERS:
            raise _bad("'%s' is not a parameter of the action "
                       "'microsoft.graph.create' (it takes %s)."
                       % (key, ", ".join(CREATE_PARAMETERS)))
    out = {}
    for key in ("displayName", "manufacturer", "model"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise _bad("%s is required: a non-empty string." % key)
        out[key] = body[key]
    has = body.get("hasPhysicalDevice")
    if has is None:
        has = True                      # the documented default
    if not isinstance(has, bool):
        raise _want("hasPhysicalDevice", "true or false")
    device = body.get("physicalDeviceId")
    if device is not None and not isinstance(device, str):
        raise _want("physicalDeviceId", "a string or null")
    if has and not device:
        raise _bad("physicalDeviceId is required when hasPhysicalDevice is "
                   "true (the default); register a virtual printer with "
                   "\"hasPhysicalDevice\": false.")
    csr = body.get("certificateSigningRequest")
    if not isinstance(csr, dict):
        raise _bad("certificateSigningRequest is required: {\"content\": "
                   "base64 PKCS#10 CSR, \"transportKey\": base64 public "
                   "key}.")
    for key in csr:
        if key not in ("content", "transportKey", "@odata.type"):
            raise _unknown(key, "printCertificateSigningRequest")
    for key in ("content", "transportKey"):
        if not isinstance(csr.get(key), str) or not csr[key].strip():
            raise _bad("certificateSigningRequest.%s is required: a "
                       "non-empty string." % key)
    cid = body.get("connectorId")
    if cid is not None:
        if not isinstance(cid, str):
            raise _want("connectorId", "a string or null")
        if cid not in state.c["connectors"].by_id:
            raise _bad("connectorId '%s' names no connector of the tenant."
                       % cid)
    out.update(hasPhysicalDevice=has, physicalDeviceId=device,
               connectorId=cid,
               certificateSigningRequest={"content": csr["content"],
                                          "transportKey":
                                          csr["transportKey"]})
    return out


def create_printer(req, state):
    seconds = req.app.operation_seconds
    with state.lock:
        _admin(req, state, "registering printers")
        request = _create_request(state, req.json())
        request["appid"] = req.claims.get("appid")
        op = records.printer_create_operation(
            util.new_id(), util.now_str(), time.time() + seconds, request)
        state.add("operations", op)
    return Reply(202, None, {
        "Operation-Location": "%s/print/operations/%s" % (req.graph_base,
                                                          op["id"]),
        "Retry-After": RETRY_AFTER})


# --- settings and connectors -------------------------------------------------

def update_settings(req, state):
    with state.lock:
        _admin(req, state, "changing the print settings")
        body = _check_type(req.json(), "printSettings",
                           "#microsoft.graph.printSettings")
        for key, value in body.items():
            if key == "printerDiscoverySettings":
                raise GraphError(400, "invalidRequest", "Property '%s' of "
                                 "printSettings is read-only." % key)
            if key != "documentConversionEnabled":
                raise _unknown(key, "printSettings")
            if not isinstance(value, bool):
                raise _want(key, "true or false")
        state.settings.update(body)
    return Reply(204)


def update_connector(req, state):
    with state.lock:
        _admin(req, state, "updating connectors")
        rec = state.one("connectors", req.params["id"], "printConnector")
        body = _check_type(req.json(), "printConnector",
                           "#microsoft.graph.printConnector")
        change = {}
        for key, value in body.items():
            if key == "location":
                change[key] = location(rec.get("location"), value)
            elif key in CONNECTOR_WRITABLE:
                change[key] = _name(key, value)
            elif key in schema.PROPERTIES["printConnector"]:
                raise _bad("The property '%s' of a printConnector is "
                           "read-only; only %s can be updated."
                           % (key, ", ".join(CONNECTOR_WRITABLE)))
            else:
                raise _unknown(key, "printConnector")
        rec.update(change)
        obj = render.connector(rec)
    return graph_print.entity(req, "print/connectors", obj)


def delete_connector(req, state):
    with state.lock:
        _admin(req, state, "deleting connectors")
        rec = state.one("connectors", req.params["id"], "printConnector")
        if state.connector_printers(rec["id"]):
            raise GraphError(409, "conflict", CONNECTOR_BUSY)
        state.delete_connector(rec["id"])
    return Reply(204)


def register(router):
    """Adds the routes (app.graph_router calls it before graph_print)."""
    add = router.add
    add("POST", "/print/printers/create", create_printer, app_ok=False)
    add("PATCH", "/print/printers/{id}", update_printer)
    add("DELETE", "/print/printers/{id}", delete_printer, app_ok=False)
    add("POST", "/print/printers/{id}/restoreFactoryDefaults",
        restore_defaults, app_ok=False)
    add("PATCH", "/print/settings", update_settings, app_ok=False)
    add("PATCH", "/print/connectors/{id}", update_connector, app_ok=False)
    add("DELETE", "/print/connectors/{id}", delete_connector, app_ok=False)
