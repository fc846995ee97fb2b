"""The /print write side for share management (reference §2.6, §3.4, §5.3,
§8.2): create, rename, re-point and delete printer shares, and add/remove
the users and groups of their access lists with OData `$ref`.

Every route here is delegated-only (§5.4: all PrinterShare.* scopes are
delegated): app-only tokens get 403 accessDenied from the router. A
delegated caller must be a Printer Administrator (printing.is_admin: a user
record with `_printerAdmin` true, and admin@contoso.com unless marked
false; see PATCH /_emulator/users/{id}); anyone else gets 403 accessDenied.
The role is checked before anything else, so a non-admin learns nothing
about which shares, users or groups exist.

Routes ({coll} is `shares` or the beta alias `printerShares`):

  POST   /print/{coll}                       201 printerShare (+Location)
  PATCH  /print/{coll}/{id}                  200 printerShare
  DELETE /print/{coll}/{id}                  204 (its jobs stay on the
                                             printer)
  DELETE /print/printers/{pid}/share         204 (beta: the printer's share)
  POST   /print/{coll}/{id}/allowedUsers/$ref          204
  DELETE /print/{coll}/{id}/allowedUsers/{uid}/$ref    204
  DELETE /print/{coll}/{id}/allowedUsers/$ref?$id=URL  204 (OData form)
  ... the same three for allowedGroups, and all six again under
  /print/printers/{pid}/shares/{sid}/... (the add-group page's form; the
  share must be that printer's, else 404).

$ref bodies: {"@odata.id": URL}. URL is absolute with any host and version
("https://graph.microsoft.com/v1.0/users/{id}", the emulator's own base,
"beta") or relative ("users/{id}", "/users/{id}"); `users('{id}')` and
`directoryObjects/{id}` are taken too. A user is named by object id or
userPrincipalName (/users/{upn} is a valid Graph URL); a group by object id
only. {uid} in a DELETE path is an id or a UPN as well.

Create body: {"displayName", "allowAllUsers"?, "printer@odata.bind": URL
of /print/printers/{id}} (URL forms as above). PATCH body: any of those
three. `@odata.type` "#microsoft.graph.printerShare" is tolerated.

Refusals (status, error code, when):
  400 invalidRequest   body not a JSON object; a missing or ill-typed
                       field; displayName empty or over 50 characters;
                       printer@odata.bind missing (create) or not a
                       printer URL; a read-only printerShare property
                       (id, createdDateTime, manufacturer, model, status,
                       location, defaults, capabilities, isAcceptingJobs,
                       viewPoint, ...); a property printerShare lacks;
                       $ref without @odata.id, or naming the wrong kind
                       (a group in allowedUsers).
  400 "400"            one share per printer (§5.3), in the print
                       service's business-rule style (§5.2): code is the
                       string "400", message "Invalid Operation: ...".
                       Create on a shared printer, or PATCH
                       printer@odata.bind to a printer shared by another
                       share.
  400 Request_BadRequest   POST $ref of a user/group already in the list:
                       the directory's duplicate-reference error, message
                       "One or more added object references already exist
                       for the following modified properties:
                       'allowedUsers'." (or 'allowedGroups').
  403 accessDenied     not a Printer Administrator (or an app token).
  404 itemNotFound     no such share; printer@odata.bind names no printer;
                       /print/printers/{pid}/... with an unknown printer or
                       a share of another printer.
  404 Request_ResourceNotFound   the user/group of a $ref does not exist;
                       DELETE $ref of one that is not in the list.
  409 nameAlreadyExists   displayName (compared case-insensitively, as
                       share names are) is used by another share. Chosen
                       by the emulator (the reference is silent); upfs maps
                       it to EEXIST.
"""

import re
from urllib.parse import parse_qsl, unquote, urlsplit

from . import graph_print, printing, records, render, schema, util
from .wire import GraphError, Reply, not_found

MAX_NAME = 50
WRITABLE = ("displayName", "allowAllUsers", "printer@odata.bind")
SHARE_TYPE = "#microsoft.graph.printerShare"
LIST_KEYS = {"allowedUsers": ("_allowedUsers", "user", ("users",)),
             "allowedGroups": ("_allowedGroups", "group", ("groups",))}


def _bad(message):
    return GraphError(400, "invalidRequest", message)


def _one_share_per_printer(pid):
    return GraphError(
        400, "400", "Invalid Operation: The printer %s is already shared. "
        "Multiple shares per printer is not supported." % pid)


def _admin(req, state):
    """The caller, who must be a Printer Administrator (else 403)."""
    user = printing.caller(req, state)
    if not printing.is_admin(user):
        raise GraphError(
            403, "accessDenied",
            "User '%s' is not a Printer Administrator; managing printer "
            "shares and their access lists needs that role."
            % user["userPrincipalName"])
    return user


def _share(req, state):
    """The share a path names (checked against the printer on the
    /print/printers/{pid}/shares/{sid} form)."""
    if req.route.segments[1] == "printers":
        printer = state.printer(req.params["pid"])
        sid = req.params["id"]
        if sid not in state.shares_by_printer.get(printer["id"], []):
            raise not_found("printerShare", sid)
    return state.share(req.params["id"])


def _coll(req):
    seg = req.route.segments[1]
    return "shares" if seg == "printers" else seg


# --- URLs in bodies ----------------------------------------------------------

_KEYED = re.compile(r"^([A-Za-z]+)\('(.*)'\)$")


def ref_target(url, field):
    """(collection, key) of an entity URL: the last two segments of its
    path, or the `coll('key')` form. Raises 400 for anything else."""
    if not isinstance(url, str) or not url.strip():
        raise _bad("%s is required: the URL of the object, e.g. "
                   "https://graph.microsoft.com/v1.0/users/{id}." % field)
    path = urlsplit(url.strip()).path
    segs = [s for s in path.split("/") if s]
    if segs:
        m = _KEYED.match(segs[-1])
        if m:
            return m.group(1), unquote(m.group(2)).replace("''", "'")
    if len(segs) < 2 or not segs[-1]:
        raise _bad("%s '%s' is not the URL of an object." % (field, url))
    return segs[-2], unquote(segs[-1])


def _printer_of(state, url):
    coll, pid = ref_target(url, "printer@odata.bind")
    if coll.lower() != "printers":
        raise _bad("printer@odata.bind '%s' is not the URL of a printer "
                   "(.../print/printers/{id})." % url)
    return state.printer(pid)


# --- bodies ------------------------------------------------------------------

def _fields(body, create):
    """The checked writable fields of a create or PATCH body."""
    out = {}
    for key, value in body.items():
        if key == "@odata.type":
            if value != SHARE_TYPE:
                raise _bad("@odata.type must be %s." % SHARE_TYPE)
            continue
        if key not in WRITABLE:
            if key in schema.PROPERTIES["printerShare"]:
                raise _bad("The property '%s' of a printerShare is "
                           "read-only; only %s can be %s." % (
                               key, ", ".join(WRITABLE),
                               "set" if create else "updated"))
            raise _bad("The property '%s' does not exist on type "
                       "'microsoft.graph.printerShare'." % key)
        out[key] = value
    if "displayName" in out or create:
        name = out.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise _bad("displayName is required: a non-empty string of at "
                       "most %d characters." % MAX_NAME)
        if len(name) > MAX_NAME:
            raise _bad("displayName is %d characters long; a printer share "
                       "name may have at most %d." % (len(name), MAX_NAME))
    if "allowAllUsers" in out and not isinstance(out["allowAllUsers"],
                                                 bool):
        raise _bad("allowAllUsers must be true or false.")
    if create and "printer@odata.bind" not in out:
        raise _bad("printer@odata.bind is required: the URL of the printer "
                   "to share (.../print/printers/{id}).")
    return out


def _check_name(state, name, own_id=None):
    for rec in state.shares.records():
        if rec["id"] != own_id and \
                rec["displayName"].lower() == name.lower():
            raise GraphError(
                409, "nameAlreadyExists",
                "A printer share named '%s' already exists (id %s)."
                % (rec["displayName"], rec["id"]))


def _check_unshared(state, printer, own_id=None):
    others = [s for s in state.shares_by_printer.get(printer["id"], [])
              if s != own_id]
    if others:
        raise _one_share_per_printer(printer["id"])


def _out(req, state, rec, coll="shares"):
    obj = render.share(state, req, rec, single=True)
    return graph_print.entity(req, "print/" + coll, obj)


# --- shares ------------------------------------------------------------------

def create_share(req, state):
    with state.lock:
        _admin(req, state)
        body = req.json()
        fields = _fields(body, create=True)
        printer = _printer_of(state, fields["printer@odata.bind"])
        _check_unshared(state, printer)
        _check_name(state, fields["displayName"])
        rec = records.share(util.new_id(), fields["displayName"],
                            printer["id"],
                            allowAllUsers=fields.get("allowAllUsers", False))
        state.add("shares", rec)
        reply = _out(req, state, rec, _coll(req))
    reply.status = 201
    reply.headers["Location"] = "%s/print/shares/%s" % (req.graph_base,
                                                         rec["id"])
    return reply


def update_share(req, state):
    with state.lock:
        _admin(req, state)
        rec = _share(req, state)
        body = req.json()
        fields = _fields(body, create=False)
        printer = None
        if "printer@odata.bind" in fields:
            printer = _printer_of(state, fields["printer@odata.bind"])
            _check_unshared(state, printer, rec["id"])
        if "displayName" in fields:
            _check_name(state, fields["displayName"], rec["id"])
        change = {k: v for k, v in fields.items()
                  if k in ("displayName", "allowAllUsers")}
        if printer is not None:
            change["printerId"] = printer["id"]
        state.patch_share(rec["id"], change)
        return _out(req, state, rec, _coll(req))


def delete_share(req, state):
    with state.lock:
        _admin(req, state)
        rec = _share(req, state)
        state.delete_share(rec["id"])
    return Reply(204)


def delete_printer_share(req, state):
    """Beta: DELETE /print/printers/{pid}/share."""
    with state.lock:
        _admin(req, state)
        printer = state.printer(req.params["pid"])
        sids = state.shares_by_printer.get(printer["id"], [])
        if not sids:
            raise GraphError(404, "itemNotFound", "The printer '%s' has no "
                             "share." % printer["id"])
        state.delete_share(sids[0])
    return Reply(204)


# --- access lists ------------------------------------------------------------

def _member(state, nav, coll, key):
    """The user or group record a $ref names, or 400/404."""
    _, type_name, colls = LIST_KEYS[nav]
    if coll.lower() == "directoryobjects":
        if type_name == "user":
            return state.user(key)
        return state.group(key)
    if coll.lower() not in colls:
        raise _bad("%s takes %s references (.../%s/{id}), not '%s'."
                   % (nav, type_name, colls[0], coll))
    return state.user(key) if type_name == "user" else state.group(key)


def _nav(req):
    """"allowedUsers" or "allowedGroups", from the route."""
    return next(s for s in req.route.segments if s in LIST_KEYS)


def add_ref(req, state):
    nav = _nav(req)
    key = LIST_KEYS[nav][0]
    with state.lock:
        _admin(req, state)
        rec = _share(req, state)
        body = req.json()
        for name in body:
            if name != "@odata.id":
                raise _bad("A $ref body has only @odata.id; '%s' is not "
                           "expected." % name)
        coll, ident = ref_target(body.get("@odata.id"), "@odata.id")
        member = _member(state, nav, coll, ident)
        if member["id"] in rec[key]:
            raise GraphError(
                400, "Request_BadRequest",
                "One or more added object references already exist for the "
                "following modified properties: '%s'." % nav)
        rec[key].append(member["id"])
    return Reply(204)


def remove_ref(req, state):
    nav = _nav(req)
    key, type_name, colls = LIST_KEYS[nav]
    with state.lock:
        _admin(req, state)
        rec = _share(req, state)
        if "uid" in req.params:
            coll, ident = colls[0], req.params["uid"]
        else:
            query = dict(parse_qsl(req.raw_query, keep_blank_values=True))
            url = query.get("$id")
            if url is None:
                raise _bad("DELETE .../%s/$ref needs the object: "
                           ".../%s/{id}/$ref or ?$id={url}." % (nav, nav))
            coll, ident = ref_target(url, "$id")
        member = _member(state, nav, coll, ident)
        if member["id"] not in rec[key]:
            raise GraphError(
                404, "Request_ResourceNotFound",
                "Resource '%s' does not exist or one of its queried "
                "reference-property objects are not present." % ident)
        rec[key].remove(member["id"])
    return Reply(204)


def register(router):
    add = router.add
    for coll in ("shares", "printerShares"):
        base = "/print/" + coll
        add("POST", base, create_share, app_ok=False)
        add("PATCH", base + "/{id}", update_share, app_ok=False)
        add("DELETE", base + "/{id}", delete_share, app_ok=False)
    add("DELETE", "/print/printers/{pid}/share", delete_printer_share,
        app_ok=False)
    for base in ("/print/shares/{id}", "/print/printerShares/{id}",
                 "/print/printers/{pid}/shares/{id}"):
        for nav in LIST_KEYS:
            add("POST", "%s/%s/$ref" % (base, nav), add_ref, app_ok=False)
            add("DELETE", "%s/%s/$ref" % (base, nav), remove_ref,
                app_ok=False)
            add("DELETE", "%s/%s/{uid}/$ref" % (base, nav), remove_ref,
                app_ok=False)
