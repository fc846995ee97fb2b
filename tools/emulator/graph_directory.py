"""The directory surface the print API leans on: /users, /users/{id or
UPN}, /me, /groups, /groups/{id}."""

from . import odata, render
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


def get_me(req, state):
    if req.claims.get("kind") != "delegated":
        raise GraphError(400, "BadRequest", "/me request is only valid with "
                         "delegated authentication flow.")
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


def register(router):
    router.add("GET", "/users", list_users)
    router.add("GET", "/users/{id}", get_user)
    router.add("GET", "/me", get_me)
    router.add("GET", "/groups", list_groups)
    router.add("GET", "/groups/{id}", get_group)
