"""The directory surface the print API leans on: /users, /users/{id or
UPN}, /me, /groups, /groups/{id}, and the signed-in user's memberships
(to tell whether they hold the Printer Administrator role):

  GET /me/memberOf                       groups and directory roles
  GET /me/transitiveMemberOf             the same (emulated groups do not
                                         nest, so direct = transitive)
  GET /me/{memberOf|transitiveMemberOf}/microsoft.graph.group
  GET /me/{memberOf|transitiveMemberOf}/microsoft.graph.directoryRole
                                         OData casts: only that type

Members: the groups whose members include the user, rendered as on
/groups; and for a Printer Administrator (records.is_printer_admin) the
directoryRole of PRINTER_ADMIN_ROLE (roleTemplateId
644ef478-e28f-4e28-b9dc-3fdde9aa0b1f, a stable id per emulator). Without
a cast the items carry "@odata.type" (#microsoft.graph.group,
#microsoft.graph.directoryRole) and the context is #directoryObjects; a
cast's context is #groups or #directoryRoles and its items carry no type,
as OData minimal metadata has it. The role comes first, then groups in
creation order. Paged ($top, $skiptoken) and $select-able like the other
collections (on the uncast list, $select takes any group or directoryRole
property); $filter, $count, $search and $orderby (which need
ConsistencyLevel: eventual on the service) are refused 400. App-only
tokens get 400, as for GET /me."""

from . import odata, records, render, util
from .graph_print import entity, list_of
from .odata import COLLECTION_OPTIONS
from .wire import GraphError

USER_FILTERS = ("userPrincipalName", "displayName", "mail")
GROUP_FILTERS = ("displayName", "mailNickname")
OPTIONS = COLLECTION_OPTIONS - {"$expand"}


def list_users(req, state):
    with state.lock:
        c = state.users
        return list_of(req, state, "user", "users", c.ids, c.seq_of, c.get,
                       lambda r, q: render.user(r, q.select),
                       options=OPTIONS, filters=USER_FILTERS)


def get_user(req, state):
    q = odata.Query(req.raw_query, {"$select"}, "user")
    with state.lock:
        obj = render.user(state.user(req.params["id"]), q.select)
    return entity(req, "users", obj, q.select)


PRINTER_ADMIN_ROLE = {
    "id": util.seed_id("directoryRole/printer-administrator"),
    "deletedDateTime": None,
    "description": "Can manage all aspects of printers and printer "
                   "connectors.",
    "displayName": "Printer Administrator",
    "roleTemplateId": "644ef478-e28f-4e28-b9dc-3fdde9aa0b1f",
}
GROUP_TYPE = "#microsoft.graph.group"
ROLE_TYPE = "#microsoft.graph.directoryRole"
# Delegated scopes that may read directory roles (list directoryRoles).
ROLE_READERS = {"RoleManagement.Read.Directory",
                "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                "Directory.ReadWrite.All"}
# cast segment -> (type name, context fragment)
CASTS = {None: ("directoryObject", "directoryObjects"),
         "group": ("group", "groups"),
         "directoryRole": ("directoryRole", "directoryRoles")}


def _delegated(req):
    if req.claims.get("kind") != "delegated":
        raise GraphError(400, "BadRequest", "/me request is only valid with "
                         "delegated authentication flow.")


def get_me(req, state):
    _delegated(req)
    q = odata.Query(req.raw_query, {"$select"}, "user")
    with state.lock:
        obj = render.user(state.user(req.claims.get("upn") or ""), q.select)
    return entity(req, "users", obj, q.select)


def list_groups(req, state):
    with state.lock:
        c = state.groups
        return list_of(req, state, "group", "groups", c.ids, c.seq_of, c.get,
                       lambda r, q: render.group(r, q.select),
                       options=OPTIONS, filters=GROUP_FILTERS)


def get_group(req, state):
    q = odata.Query(req.raw_query, {"$select"}, "group")
    with state.lock:
        obj = render.group(state.group(req.params["id"]), q.select)
    return entity(req, "groups", obj, q.select)


def _member_of(cast):
    type_name, fragment = CASTS[cast]

    def render_one(item, q, reads):
        kind, rec = item
        out = render.group(rec) if kind == "group" else dict(rec)
        if kind == "role" and not reads:
            # Graph's answer for an object the token may not read:
            # its type and id, every other property null.
            out = {k: (v if k == "id" else None) for k, v in out.items()}
        if cast is None or (kind == "role" and not reads):
            out = dict({"@odata.type": GROUP_TYPE if kind == "group"
                        else ROLE_TYPE}, **out)
        return odata.select_fields(out, q.select)

    def handler(req, state):
        _delegated(req)
        # Read through this list, a directory role is shown whole only to
        # a token that may read roles (Graph: "limited information" for
        # objects of a type the app may not read).
        reads = bool(set((req.claims.get("scp") or "").split()) &
                     ROLE_READERS)
        with state.lock:
            user = state.user(req.claims.get("upn") or "")
            items, seqs = {}, {}
            if cast in (None, "directoryRole") and \
                    records.is_printer_admin(user):
                role = PRINTER_ADMIN_ROLE
                items[role["id"]], seqs[role["id"]] = ("role", role), 0
            if cast in (None, "group"):
                for group in state.groups.records():
                    if user["id"] in group.get("_members", []):
                        items[group["id"]] = ("group", group)
                        seqs[group["id"]] = group["_seq"]
            keys = sorted(items, key=seqs.get)
            return list_of(req, state, type_name, fragment, keys, seqs.get,
                           items.get,
                           lambda item, q: render_one(item, q, reads),
                           options=OPTIONS)
    return handler


def register(router):
    router.add("GET", "/users", list_users)
    router.add("GET", "/users/{id}", get_user)
    router.add("GET", "/me", get_me)
    for nav in ("memberOf", "transitiveMemberOf"):
        router.add("GET", "/me/" + nav, _member_of(None))
        for cast in ("group", "directoryRole"):
            router.add("GET", "/me/%s/microsoft.graph.%s" % (nav, cast),
                       _member_of(cast))
    router.add("GET", "/groups", list_groups)
    router.add("GET", "/groups/{id}", get_group)
