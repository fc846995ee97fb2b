"""Internal records -> Graph JSON shapes: private keys stripped, shares
mirroring their printer, list/entity defaults for `defaults` and
`capabilities`, $select, $expand, and the evolvable-enum substitution."""

from . import odata, records, schema


def public(rec):
    return {k: v for k, v in rec.items() if not k.startswith("_")}


PRINTER_READ = ("Printer.Read.All", "Printer.ReadWrite.All",
                "Printer.FullControl.All")


def may_read_printers(req):
    """Whether the request's token may read printers (its scp or roles
    name one of PRINTER_READ); internal renders carry no token and may.
    A share's $expand=printer is left out for a token that may not: the
    reference does not say whether the service refuses such an expand or
    leaves it out, and a client must cope with a share that names no
    printer either way."""
    claims = getattr(req, "claims", None)
    if not claims:
        return True
    if claims.get("kind") == "app":
        granted = claims.get("roles") or []
    else:
        granted = (claims.get("scp") or "").split()
    return any(p in granted for p in PRINTER_READ)


def _evolve_finishings(obj):
    if obj and obj.get("finishings"):
        obj = dict(obj)
        obj["finishings"] = schema.evolvable(
            obj["finishings"], schema.FINISHINGS_BEFORE_SENTINEL)
    return obj


def _evolve_printer_enums(out):
    status = out.get("status")
    if status and status.get("details"):
        out["status"] = dict(status, details=schema.evolvable(
            status["details"], schema.PRINTER_DETAILS_BEFORE_SENTINEL))
    for key in ("capabilities", "defaults"):
        if out.get(key):
            out[key] = _evolve_finishings(out[key])
    return out


def _shape_base(req, out, select, single):
    """Applies the printerBase rules: the list omits defaults and
    capabilities, a single GET omits capabilities, $select overrides (in
    a list too, unless the app's lists_omit_details says otherwise)."""
    if not req.include_unknown_enums:
        _evolve_printer_enums(out)
    if select is not None:
        out = odata.select_fields(out, select)
        app = getattr(req, "app", None)     # internal renders have none
        if not single and app is not None and (
                app.lists_omit_details or
                out.get("id") in app.lists_omit_details_of):
            out.pop("capabilities", None)
            out.pop("defaults", None)
        return out
    out.pop("capabilities", None)
    if not single:
        out.pop("defaults", None)
    return out


def printer(state, req, rec, select=None, expand=None, single=False):
    out = _shape_base(req, public(rec), select, single)
    expand = expand or {}
    if "shares" in expand:
        out["shares"] = [share(state, req, state.shares.get(sid),
                               expand["shares"])
                         for sid in state.shares_by_printer.get(rec["id"], [])]
    app = getattr(req, "app", None)     # internal renders have none
    if "connectors" in expand and not (
            not single and app is not None and
            "connectors" in app.lists_ignore_expand):
        out["connectors"] = [
            connector(state.c["connectors"].get(cid), expand["connectors"])
            for cid in rec.get("_connectorIds", [])
            if cid in state.c["connectors"].by_id]
    return out


def share(state, req, rec, select=None, expand=None, single=False):
    p = state.printers.get(rec["_printerId"]) or {}
    out = {
        "id": rec["id"],
        "displayName": rec["displayName"],
        "manufacturer": p.get("manufacturer"),
        "model": p.get("model"),
        "createdDateTime": rec["createdDateTime"],
        "allowAllUsers": rec["allowAllUsers"],
        "isAcceptingJobs": bool(rec["isAcceptingJobs"]
                                and p.get("isAcceptingJobs")),
        "status": p.get("status"),
        "location": p.get("location"),
        "defaults": p.get("defaults"),
        "capabilities": p.get("capabilities"),
    }
    for key, value in rec.items():      # fields set through test routes
        if not key.startswith("_") and key not in out:
            out[key] = value
    out = _shape_base(req, out, select, single)
    expand = expand or {}
    if "printer" in expand and p and may_read_printers(req):
        out["printer"] = printer(state, req, p, expand["printer"],
                                 single=True)
    if "allowedUsers" in expand:
        out["allowedUsers"] = [
            odata.select_fields(user(state.users.get(u)),
                                expand["allowedUsers"])
            for u in rec["_allowedUsers"] if u in state.users.by_id]
    if "allowedGroups" in expand:
        out["allowedGroups"] = [
            odata.select_fields(group(state.groups.get(g)),
                                expand["allowedGroups"])
            for g in rec["_allowedGroups"] if g in state.groups.by_id]
    return out


def job(state, req, rec, select=None, expand=None, owner_fragment=None):
    """owner_fragment is e.g. "print/printers('id')", for the documents'
    context annotation."""
    out = public(rec)
    docs = out.pop("documents", [])
    if not req.include_unknown_enums:
        out["configuration"] = _evolve_finishings(out.get("configuration"))
    out = odata.select_fields(out, select)
    expand = expand or {}
    fragment = "%s/jobs('%s')" % (owner_fragment, rec["id"])
    if "documents" in expand:
        out["documents@odata.context"] = odata.context(
            req, fragment + "/documents")
        out["documents"] = [odata.select_fields(d, expand["documents"])
                            for d in docs]
    if "tasks" in expand:
        out["tasks@odata.context"] = odata.context(req, fragment + "/tasks")
        out["tasks"] = [task(state, req, t, expand["tasks"])
                        for t in state.job_tasks(records.job_key(rec))]
    return out


# --- pull printing (pulltasks.py) --------------------------------------------

def job_url(req, printer_id, job_id):
    """A job's URL as parentUrl, redirectedFrom and redirectedTo give it."""
    return "%s/print/printers/%s/jobs/%s" % (req.graph_base, printer_id,
                                             job_id)


def definition(state, req, rec, select=None, expand=None):
    out = dict(public(rec), createdBy=dict(rec["createdBy"]))
    out = odata.select_fields(out, select)
    if "tasks" in (expand or {}):
        out["tasks"] = [task(state, req, state.tasks.by_id[t],
                             expand["tasks"])
                        for t in state.tasks_by_definition.get(rec["id"], [])]
    return out


def task(state, req, rec, select=None, expand=None):
    """{"id","parentUrl","status"}; $expand=definition,trigger inline them
    (a trigger deleted since expands to null)."""
    out = {"id": rec["id"],
           "parentUrl": job_url(req, rec["_printerId"], rec["_jobId"]),
           "status": dict(rec["status"])}
    out = odata.select_fields(out, select)
    expand = expand or {}
    if "definition" in expand:
        d = state.definitions.get(rec["_definitionId"])
        out["definition"] = definition(state, req, d, expand["definition"]) \
            if d else None
    if "trigger" in expand:
        t = state.triggers.get(rec["_triggerId"])
        out["trigger"] = trigger(state, req, t, expand["trigger"]) \
            if t else None
    return out


def trigger(state, req, rec, select=None, expand=None, single=True):
    """single: a GET of the trigger, else a list's element (which leaves
    the definition out when lists_ignore_expand names it)."""
    out = odata.select_fields({"id": rec["id"], "event": rec["event"]},
                              select)
    app = getattr(req, "app", None)     # internal renders have none
    if "definition" in (expand or {}) and (
            single or app is None or
            "definition" not in app.lists_ignore_expand):
        d = state.definitions.get(rec["_definitionId"])
        out["definition"] = definition(state, req, d, expand["definition"]) \
            if d else None
    return out


def connector(rec, select=None):
    return odata.select_fields(public(rec), select)


def user(rec, select=None):
    return odata.select_fields(public(rec), select)


def group(rec, select=None):
    return odata.select_fields(public(rec), select)


def service(rec, select=None, expand=None):
    return odata.select_fields(public(rec), select)


def operation(state, req, rec, select=None):
    out = public(rec)
    p = state.printers.get(rec.get("_printerId"))
    out["printer"] = printer(state, req, p) if p else None
    return odata.select_fields(out, select)


def state_view(state):
    """The whole state in Graph shapes plus explicit links, for tests."""
    def shares_of(pid):
        return list(state.shares_by_printer.get(pid, []))

    printers = []
    for rec in state.printers.records():
        out = public(rec)
        out["shareIds"] = shares_of(rec["id"])
        out["connectorIds"] = list(rec.get("_connectorIds", []))
        printers.append(out)
    shares = []
    for rec in state.shares.records():
        out = share(state, _RawReq, rec, select=list(schema.PROPERTIES[
            "printerShare"]))
        out["printerId"] = rec["_printerId"]
        out["allowedUsers"] = [_ident(state.users.get(u)) for u in
                               rec["_allowedUsers"] if u in state.users.by_id]
        out["allowedGroups"] = [_ident(state.groups.get(g)) for g in
                                rec["_allowedGroups"]
                                if g in state.groups.by_id]
        shares.append(out)
    jobs = []
    for rec in state.jobs.records():
        out = public(rec)
        out["printerId"] = rec["_printerId"]
        out["shareId"] = rec.get("_shareId")
        jobs.append(out)
    groups = []
    for rec in state.groups.records():
        out = public(rec)
        out["memberIds"] = list(rec.get("_members", []))
        groups.append(out)
    connectors = []
    for rec in state.c["connectors"].records():
        out = public(rec)
        out["printerIds"] = [p["id"] for p in state.printers.records()
                             if rec["id"] in p.get("_connectorIds", [])]
        connectors.append(out)
    operations = []
    for rec in state.c["operations"].records():
        out = public(rec)
        out["printerId"] = rec.get("_printerId")
        operations.append(out)
    return {
        "tenant": state.tenant,
        "printers": printers, "shares": shares, "jobs": jobs,
        "users": [dict(public(u), printerAdmin=records.is_printer_admin(u))
                  for u in state.users.records()],
        "groups": groups, "connectors": connectors,
        "services": [public(s) for s in state.c["services"].records()],
        "operations": operations,
        "settings": dict(state.settings),
        "nextJobId": str(state.next_job_id),
    }


def _ident(rec):
    out = {"id": rec["id"], "displayName": rec["displayName"]}
    if "userPrincipalName" in rec:
        out["userPrincipalName"] = rec["userPrincipalName"]
    return out


class _RawReq:
    """Stands in for a request in state_view: raw enums, no contexts."""
    include_unknown_enums = True
