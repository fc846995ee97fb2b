"""OData query options ($select, $expand, $top, $filter, $skiptoken),
paging with absolute @odata.nextLink, and @odata.context URLs."""

import bisect
import json
import re
from urllib.parse import parse_qsl

from . import schema, util
from .wire import GraphError

# System query options the emulator knows; each route says which it takes.
KNOWN_OPTIONS = {
    "$select": "Select", "$expand": "Expand", "$top": "Top",
    "$skip": "Skip", "$skiptoken": "SkipToken", "$filter": "Filter",
    "$count": "Count", "$search": "Search", "$orderby": "OrderBy",
    "$format": "Format",
}

COLLECTION_OPTIONS = frozenset(("$select", "$expand", "$top", "$skiptoken"))
ENTITY_OPTIONS = frozenset(("$select", "$expand"))


def _not_allowed(option):
    name = KNOWN_OPTIONS[option]
    return GraphError(
        400, "BadRequest",
        "The query specified in the URI is not valid. Query option '%s' is "
        "not allowed. To allow it, set the 'AllowedQueryOptions' property on "
        "EnableQueryAttribute or QueryValidationSettings." % name)


def _split_top(text, sep):
    """Splits text on sep outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


class Query:
    """The parsed query options of one request, checked against the options
    the route allows and the properties of the type it returns."""

    def __init__(self, raw_query, allowed, type_name):
        self.type_name = type_name
        self.select = None      # list of names, or None for the default
        self.expand = {}        # name -> list of names for nested $select
        self.top = None
        self.after = None       # the seq a $skiptoken points after
        self.filter = None      # list of (path, value)
        seen = set()
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            if not key.startswith("$"):
                continue        # Graph ignores other parameters
            key = key.lower() if key.lower() in KNOWN_OPTIONS else key
            if key not in KNOWN_OPTIONS:
                raise GraphError(400, "BadRequest",
                                 "The query parameter '%s' is not supported."
                                 % key)
            if key in seen:
                raise GraphError(
                    400, "BadRequest",
                    "Query option '%s' was specified more than once, but it "
                    "must be specified at most once." % key)
            seen.add(key)
            if key not in allowed:
                raise _not_allowed(key)
            self._take(key, value)

    def _take(self, key, value):
        if key == "$select":
            self.select = self._names(value, self.type_name)
        elif key == "$expand":
            self.expand = self._expand(value)
        elif key == "$top":
            if not value.isdigit():
                raise GraphError(
                    400, "BadRequest",
                    "Invalid value '%s' for $top query option found. The $top "
                    "query option requires a non-negative integer value."
                    % value)
            self.top = int(value)
        elif key == "$skiptoken":
            self.after = decode_skiptoken(value)
        elif key == "$filter":
            self.filter = parse_filter(value)

    @staticmethod
    def _names(text, type_name):
        props = schema.PROPERTIES[type_name]
        names = []
        for name in _split_top(text, ","):
            if name == "*":
                return None
            if name not in props:
                raise GraphError(
                    400, "BadRequest",
                    "Parsing OData Select and Expand failed: Could not find a "
                    "property named '%s' on type 'microsoft.graph.%s'."
                    % (name, type_name))
            if name not in names:
                names.append(name)
        return names

    def _expand(self, text):
        allowed = schema.EXPANDABLE.get(self.type_name, ())
        out = {}
        for item in _split_top(text, ","):
            m = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", item, re.S)
            name = m.group(1) if m else item
            if name == "*":
                for nav in allowed:
                    out[nav] = None
                continue
            if not m or name not in allowed:
                raise GraphError(
                    400, "BadRequest",
                    "Parsing OData Select and Expand failed: Could not find a "
                    "navigation property named '%s' on type "
                    "'microsoft.graph.%s'." % (name, self.type_name))
            out[name] = self._nested_select(name, m.group(2))
        return out

    def _nested_select(self, nav, inner):
        if not inner:
            return None
        target = NAV_TYPES[(self.type_name, nav)]
        select = None
        for part in _split_top(inner, ";"):
            key, _, value = part.partition("=")
            if key.strip().lower() != "$select":
                raise GraphError(400, "BadRequest",
                                 "Only $select is supported inside $expand.")
            select = self._names(value, target)
        return select

    def page_size(self, default, cap):
        size = default if self.top is None else self.top
        return max(0, min(size, cap))


NAV_TYPES = {
    ("printer", "shares"): "printerShare",
    ("printer", "connectors"): "printConnector",
    ("printerShare", "printer"): "printer",
    ("printerShare", "allowedUsers"): "user",
    ("printerShare", "allowedGroups"): "group",
    ("printJob", "documents"): "printDocument",
    ("printJob", "tasks"): "printTask",
    ("printTaskDefinition", "tasks"): "printTask",
    ("printTask", "definition"): "printTaskDefinition",
    ("printTask", "trigger"): "printTaskTrigger",
    ("printTaskTrigger", "definition"): "printTaskDefinition",
    ("printService", "endpoints"): "printServiceEndpoint",
    ("printOperation", "printer"): "printer",
}

# --- $filter: `path eq literal` and `path in (literal, ...)` clauses joined
# by `and`. Graph limits `in` to 15 values by default ("requests are limited
# to 15 expressions in the filter clause"); more is a 400.

_LITERAL = r"'(?:[^']|'')*'|true|false|null|-?\d+"
_CLAUSE = re.compile(
    r"\s*([A-Za-z][A-Za-z0-9/]*)\s+eq\s+(%s)\s*" % _LITERAL, re.I)
_IN_CLAUSE = re.compile(
    r"\s*([A-Za-z][A-Za-z0-9/]*)\s+in\s*\(\s*((?:%s)(?:\s*,\s*(?:%s))*)"
    r"\s*\)\s*" % (_LITERAL, _LITERAL), re.I)
IN_MAX = 15


class AnyOf(tuple):
    """The values of an `in` clause: a record matches any one."""


def parse_filter(text):
    clauses, pos = [], 0
    while True:
        m = _CLAUSE.match(text, pos)
        if m:
            clauses.append((m.group(1), _literal(m.group(2))))
        else:
            m = _IN_CLAUSE.match(text, pos)
            if not m:
                raise GraphError(400, "BadRequest",
                                 "Invalid filter clause: '%s'." % text)
            values = AnyOf(_literal(v) for v in re.findall(_LITERAL,
                                                           m.group(2)))
            if len(values) > IN_MAX:
                raise GraphError(
                    400, "Request_UnsupportedQuery",
                    "Too many child clauses specified in search filter "
                    "expression containing 'OR' operators: %d. Max allowed:"
                    " %d." % (len(values), IN_MAX))
            clauses.append((m.group(1), values))
        pos = m.end()
        if pos == len(text):
            return clauses
        m = re.compile(r"and\s+", re.I).match(text, pos)
        if not m:
            raise GraphError(400, "BadRequest",
                             "Invalid filter clause: '%s'." % text)
        pos = m.end()


def _literal(token):
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    low = token.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    return int(token)


def filter_predicate(query, allowed_paths, get_record):
    """A predicate over keys for query.filter, or None without a filter.
    Only the property paths in allowed_paths may be filtered on."""
    if not query.filter:
        return None
    for path, _ in query.filter:
        if path not in allowed_paths:
            raise GraphError(
                400, "BadRequest",
                "Invalid filter clause: filtering on '%s' is not supported."
                % path)

    def equal(have, want):
        if isinstance(have, str) and isinstance(want, str):
            return have.lower() == want.lower()
        return have == want

    def predicate(key):
        rec = get_record(key)
        for path, want in query.filter:
            have = rec
            for part in path.split("/"):
                have = have.get(part) if isinstance(have, dict) else None
            wants = want if isinstance(want, AnyOf) else (want,)
            if not any(equal(have, w) for w in wants):
                return False
        return True
    return predicate


# --- paging ------------------------------------------------------------------

def encode_skiptoken(seq):
    return util.b64url_encode(json.dumps({"v": 1, "after": seq}).encode())


def decode_skiptoken(token):
    try:
        value = json.loads(util.b64url_decode(token))
        after = value["after"]
        if not isinstance(after, int):
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError):
        raise GraphError(400, "BadRequest",
                         "The $skiptoken '%s' is not valid." % token)


def page(keys, seq_of, query, size, predicate=None):
    """One page of keys (sorted by seq_of) after the query's $skiptoken.
    Returns (page keys, seq for the next $skiptoken or None)."""
    start = 0
    if query.after is not None:
        start = bisect.bisect_right(keys, query.after, key=seq_of)
    out, i, n = [], start, len(keys)
    while i < n and len(out) < size:
        if predicate is None or predicate(keys[i]):
            out.append(keys[i])
        i += 1
    if not out or len(out) < size:
        return out, None
    if predicate is None:
        more = i < n
    else:
        more = any(predicate(k) for k in keys[i:])
    return out, (seq_of(out[-1]) if more else None)


def next_link(req, seq):
    """The absolute nextLink: this request's URL with a new $skiptoken."""
    old = ("$skiptoken=", "%24skiptoken=")
    kept = [p for p in req.raw_query.split("&")
            if p and not p.lower().startswith(old)]
    kept.append("$skiptoken=" + encode_skiptoken(seq))
    return "%s%s?%s" % (req.graph_base, req.path, "&".join(kept))


def context(req, fragment, select=None, entity=False):
    """'{base}/{version}/$metadata#fragment[(select)][/$entity]'."""
    text = "%s/$metadata#%s" % (req.graph_base, fragment)
    if select:
        text += "(%s)" % ",".join(select)
    if entity:
        text += "/$entity"
    return text


def select_fields(obj, select):
    """obj restricted to the selected names (id always kept)."""
    if select is None:
        return obj
    return {k: v for k, v in obj.items()
            if k == "id" or k == "@odata.type" or k in select}
