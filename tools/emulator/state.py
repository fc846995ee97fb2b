"""The tenant's state: every object, the indexes that keep requests cheap,
and one lock. Handlers read and change state only through this class.

Lock: State.lock (an RLock) guards everything below; take it around a
whole request's reads and writes (`with state.lock:`). It comes before
Uploads.lock (uploads.py) when both are needed.

Started jobs finish by themselves: a job started with --job-seconds S has
`_completeAt` (epoch seconds) and sits in a heap; tick(), called at the top
of every request, completes the jobs that are due. Printer-create
operations (admin.py) finish the same way after --operation-seconds: tick()
registers their printer. No timers. A job started on a printer with a
task trigger is held instead (start_job; pull printing, pulltasks.py).

Every printer remembers the defaults it was added with (`_factoryDefaults`,
set by add()), for POST /print/printers/{id}/restoreFactoryDefaults."""

import copy
import heapq
import json
import os
import threading
import time

from . import records, util
from .wire import GraphError, not_found


job_key = records.job_key


class Collection:
    """Records by key (their id; jobs: job_key), plus their keys in
    insertion order (= `_seq` order)."""

    def __init__(self, key=None):
        self.key = key or (lambda rec: rec["id"])
        self.by_id = {}
        self.ids = []

    def add(self, rec):
        key = self.key(rec)
        self.by_id[key] = rec
        self.ids.append(key)

    def remove(self, key):
        rec = self.by_id.pop(key)
        self.ids.remove(key)
        return rec

    def get(self, key):
        return self.by_id.get(key)

    def seq_of(self, key):
        return self.by_id[key]["_seq"]

    def records(self):
        return [self.by_id[k] for k in self.ids]

    def __len__(self):
        return len(self.ids)


def _saved_value(value):
    """A document hashed when first asked (uploads.Digest) is saved as its
    hash."""
    hexdigest = getattr(value, "hexdigest", None)
    if hexdigest is None:
        raise TypeError("%r cannot be saved as JSON" % (value,))
    return hexdigest()


KINDS = ("printers", "shares", "jobs", "users", "groups", "connectors",
         "services", "operations", "taskDefinitions", "taskTriggers",
         "tasks")


class State:
    def __init__(self, tenant="empty"):
        self.lock = threading.RLock()
        self.tenant = tenant
        self.c = {kind: Collection(job_key if kind == "jobs" else None)
                  for kind in KINDS}
        self.settings = {"documentConversionEnabled": True}
        self.next_seq = 1
        self.next_job_id = 1
        # Indexes (kept by the methods below):
        # Jobs by job_key (their id but for a repeated one's), in _seq
        # order; tasks_by_job too (records.task_job_key).
        self.jobs_by_printer = {}    # printer id -> [job key]
        self.jobs_by_share = {}      # share id -> [job key]
        self.shares_by_printer = {}  # printer id -> [share id]
        self.user_by_upn = {}        # lower-case UPN -> user id
        self.jobs_by_user = {}       # createdBy id -> [job key] (quota)
        self.trigger_by_printer = {}  # printer id -> task trigger id
        self.tasks_by_job = {}       # job key -> [task id], ascending
        self.tasks_by_definition = {}  # definition id -> [task id]
        self.due = []                # heap of (_completeAt, kind, id):
                                     # kind "jobs" or "operations"

    # --- shortcuts ----------------------------------------------------------

    @property
    def printers(self):
        return self.c["printers"]

    @property
    def shares(self):
        return self.c["shares"]

    @property
    def jobs(self):
        return self.c["jobs"]

    @property
    def users(self):
        return self.c["users"]

    @property
    def groups(self):
        return self.c["groups"]

    # --- adding (seeding, test routes, later the Graph write side) ----------

    def add(self, kind, rec):
        """Adds a record to a collection, giving it its ordering key."""
        if kind == "jobs":
            return self.add_job(rec)
        if "_seq" not in rec:
            rec["_seq"] = self.next_seq
        self.next_seq = max(self.next_seq, rec["_seq"]) + 1
        self.c[kind].add(rec)
        if kind == "shares":
            self._link_share(rec)
        elif kind == "users":
            self.user_by_upn[rec["userPrincipalName"].lower()] = rec["id"]
        elif kind == "printers":
            rec.setdefault("_factoryDefaults",
                           copy.deepcopy(rec.get("defaults")))
            self.shares_by_printer.setdefault(rec["id"], [])
            self.jobs_by_printer.setdefault(rec["id"], [])
        elif kind == "operations" and rec.get("_completeAt") is not None:
            self.schedule(rec, "operations")
        elif kind == "taskTriggers":
            self.trigger_by_printer[rec["_printerId"]] = rec["id"]
        elif kind == "tasks":
            self.tasks_by_job.setdefault(records.task_job_key(rec),
                                         []).append(
                rec["id"])
            self.tasks_by_definition.setdefault(
                rec["_definitionId"], []).append(rec["id"])
        return rec

    @property
    def tasks(self):
        return self.c["tasks"]

    @property
    def definitions(self):
        return self.c["taskDefinitions"]

    @property
    def triggers(self):
        return self.c["taskTriggers"]

    def allocate_job_id(self):
        jid = self.next_job_id
        self.next_job_id += 1
        return jid

    def name_job(self, rec):
        """Gives a job just made on its printer the id set for the
        printer's next job (PATCH /_emulator/printers/{id} "nextJobId"),
        if any: the service numbers jobs per printer, so it may be an id
        another printer's job has; the job is then kept under
        "<id>@<printer id>" (job_key)."""
        printer = self.printers.get(rec["_printerId"])
        # One job's: a create it makes fail (400) uses it up too.
        jid = printer.pop("_nextJobId", None) if printer else None
        if jid is None:
            return
        other = self.jobs.get(jid)
        key = jid if other is None else "%s@%s" % (jid, rec["_printerId"])
        if (other is not None and other["_printerId"] == rec["_printerId"]) \
                or self.jobs.get(key) is not None:
            raise GraphError(400, "BadRequest", "the printer already has "
                             "job '%s'" % jid)
        rec["id"] = jid
        if key != jid:
            rec["_key"] = key
        # A plain id the tenant-wide numbering must not give out again.
        self.next_job_id = max(self.next_job_id, int(jid) + 1)

    def add_job(self, rec):
        key = job_key(rec)
        self.next_job_id = max(self.next_job_id, rec["_seq"] + 1)
        self.jobs.add(rec)
        self.jobs_by_printer.setdefault(rec["_printerId"], []).append(key)
        if rec.get("_shareId"):
            self.jobs_by_share.setdefault(rec["_shareId"], []).append(key)
        uid = (rec.get("createdBy") or {}).get("id")
        if uid:
            self.jobs_by_user.setdefault(uid, []).append(key)
        if rec.get("_completeAt") is not None:
            self.schedule(rec)
        return rec

    # --- the job clock -------------------------------------------------------

    def schedule(self, rec, kind="jobs"):
        """Queues a started job (or a running operation, kind
        "operations") for completion at its `_completeAt`."""
        heapq.heappush(self.due, (rec["_completeAt"], kind,
                                  job_key(rec) if kind == "jobs"
                                  else rec["id"]))

    def tick(self, now=None):
        """Completes the started jobs and running operations whose time has
        come. Cheap when none are due; takes the lock only then."""
        now = time.time() if now is None else now
        try:
            first = self.due[0][0]      # a peek without the lock
        except IndexError:
            return
        if first > now:
            return
        with self.lock:
            while self.due and self.due[0][0] <= now:
                when, kind, key = heapq.heappop(self.due)
                rec = self.c[kind].get(key)
                if rec is None or rec.get("_completeAt") != when:
                    continue        # canceled, deleted or changed since
                stamp = util.format_time(util.from_epoch(when))
                if kind == "operations":
                    if rec["status"]["state"] == "running":
                        self.add("printers",
                                 records.complete_printer_create(rec, stamp))
                elif rec["status"]["state"] == "processing":
                    records.complete_job(rec, stamp)

    # --- pull printing (pulltasks.py) ---------------------------------------

    def start_job(self, rec, complete_at, held_details=("releaseWait",)):
        """Starts a job: due to complete at complete_at (epoch seconds),
        unless its printer has a task trigger. Then the trigger's event
        (jobStarted) fires: a task in processing is created under the
        trigger's definition and the job is held (records.hold_job) until
        the task completes or aborts or the job is redirected, its
        details held_details (the held state is not documented, reference
        §13). Returns the new task or None."""
        records.start_job(rec, complete_at)
        tid = self.trigger_by_printer.get(rec["_printerId"])
        trigger = self.triggers.get(tid) if tid else None
        if trigger is None:
            self.schedule(rec)
            return None
        task = self.add("tasks", records.task(util.new_id(), trigger, rec))
        records.hold_job(rec, held_details)
        return task

    def resume_job(self, rec, complete_at):
        """A held job whose task completed goes on printing: processing,
        due at complete_at; its trigger does not fire again."""
        records.start_job(rec, complete_at)
        self.schedule(rec)

    def job_tasks(self, jid):
        return [self.tasks.by_id[t] for t in self.tasks_by_job.get(jid, [])]

    def processing_task(self, jid, app_id=None):
        """The task in processing on job jid (made by a trigger of
        application app_id, if given), or None."""
        for task in self.job_tasks(jid):
            if task["status"]["state"] == "processing" and \
                    (app_id is None or task["_appId"] == app_id):
                return task
        return None

    def end_tasks(self, jid, state):
        """Ends every processing task of job jid (state "completed" or
        "aborted"), e.g. when the job itself ended."""
        for task in self.job_tasks(jid):
            if task["status"]["state"] == "processing":
                records.end_task(task, state)

    def definition_triggers(self, did):
        return [t for t in self.triggers.records()
                if t["_definitionId"] == did]

    def delete_trigger(self, tid):
        """Deletes a trigger; the tasks it made stay (and stay actionable
        by their application)."""
        rec = self.triggers.remove(tid)
        if self.trigger_by_printer.get(rec["_printerId"]) == tid:
            del self.trigger_by_printer[rec["_printerId"]]
        return rec

    def _drop_task(self, tid):
        rec = self.tasks.remove(tid)
        for index, key in ((self.tasks_by_job, records.task_job_key(rec)),
                           (self.tasks_by_definition, rec["_definitionId"])):
            ids = index.get(key, [])
            if tid in ids:
                ids.remove(tid)
            if not ids:
                index.pop(key, None)
        return rec

    def delete_definition(self, did):
        """Deletes a definition and its tasks (pulltasks.py refuses while a
        trigger uses it). Returns the tasks that were still processing."""
        self.definitions.remove(did)
        left = []
        for tid in list(self.tasks_by_definition.get(did, [])):
            task = self._drop_task(tid)
            if task["status"]["state"] == "processing":
                left.append(task)
        return left

    def _link_share(self, rec):
        pid = rec["_printerId"]
        self.shares_by_printer.setdefault(pid, []).append(rec["id"])
        self._refresh_is_shared(pid)

    def _unlink_share(self, rec):
        pid = rec["_printerId"]
        sids = self.shares_by_printer.get(pid, [])
        if rec["id"] in sids:
            sids.remove(rec["id"])
        self._refresh_is_shared(pid)

    def _refresh_is_shared(self, pid):
        printer = self.printers.get(pid)
        if printer is not None:
            printer["isShared"] = bool(self.shares_by_printer.get(pid))

    # --- lookups (raise GraphError 404) -------------------------------------

    def printer(self, pid):
        rec = self.printers.get(pid)
        if rec is None:
            raise not_found("printer", pid)
        return rec

    def share(self, sid):
        rec = self.shares.get(sid)
        if rec is None:
            raise not_found("printerShare", sid)
        return rec

    def job_in(self, index, owner, jid):
        """The job jid if it belongs to owner in index (printer or share)."""
        key = "_printerId" if index is self.jobs_by_printer else "_shareId"
        rec = self.jobs.get(jid)
        if rec is None or rec[key] != owner:
            # A job whose id another printer's job has too (job_key).
            rec = next((self.jobs.by_id[k] for k in index.get(owner, [])
                        if "@" in k and self.jobs.by_id[k]["id"] == jid),
                       None)
        if rec is None or rec[key] != owner or rec["id"] != jid:
            raise not_found("printJob", jid)
        return rec

    def one(self, kind, key, type_name):
        rec = self.c[kind].get(key)
        if rec is None:
            raise not_found(type_name, key)
        return rec

    def user(self, key):
        """A user by id or userPrincipalName (case-insensitive)."""
        rec = self.users.get(key)
        if rec is None:
            uid = self.user_by_upn.get(key.lower())
            rec = self.users.get(uid) if uid else None
        if rec is None:
            raise GraphError(
                404, "Request_ResourceNotFound",
                "Resource '%s' does not exist or one of its queried "
                "reference-property objects are not present." % key)
        return rec

    def group(self, key):
        rec = self.groups.get(key)
        if rec is None:
            raise GraphError(
                404, "Request_ResourceNotFound",
                "Resource '%s' does not exist or one of its queried "
                "reference-property objects are not present." % key)
        return rec

    def group_by_name(self, name):
        for rec in self.groups.records():
            if rec["displayName"].lower() == name.lower():
                return rec
        return None

    # --- changing -----------------------------------------------------------

    def patch_printer(self, pid, fields):
        rec = self.printer(pid)
        if "nextJobId" in fields:
            jid = fields["nextJobId"]
            if not isinstance(jid, str) or not jid.isdigit():
                raise GraphError(400, "BadRequest",
                                 "nextJobId must be a decimal string")
            rec["_nextJobId"] = jid
        fields = {k: v for k, v in fields.items()
                  if k not in ("id", "isShared") and not k.startswith("_")}
        if "location" in fields:
            fields["location"] = records.normalize_location(fields["location"])
        merged = util.deep_merge(rec, fields)
        rec.clear()
        rec.update(merged)
        return rec

    def delete_printer(self, pid):
        """Unregisters a printer with its shares and jobs."""
        self.printer(pid)
        for sid in list(self.shares_by_printer.get(pid, [])):
            self.delete_share(sid)
        for jid in list(self.jobs_by_printer.get(pid, [])):
            self.delete_job(jid)
        tid = self.trigger_by_printer.get(pid)
        if tid in self.triggers.by_id:
            self.delete_trigger(tid)
        self.jobs_by_printer.pop(pid, None)
        self.shares_by_printer.pop(pid, None)
        self.printers.remove(pid)

    def delete_connector(self, cid):
        """Deletes a connector (admin.py refuses while printers use it)."""
        self.one("connectors", cid, "printConnector")
        return self.c["connectors"].remove(cid)

    def connector_printers(self, cid):
        """The ids of the printers registered through connector cid."""
        return [p["id"] for p in self.printers.records()
                if cid in p.get("_connectorIds", [])]

    def patch_share(self, sid, fields):
        rec = self.share(sid)
        new_pid = fields.get("printerId")
        if new_pid is not None and new_pid != rec["_printerId"]:
            self.printer(new_pid)
            self._unlink_share(rec)
            rec["_printerId"] = new_pid
            self._link_share(rec)
        fields = {k: v for k, v in fields.items()
                  if k not in ("id", "printerId") and not k.startswith("_")}
        merged = util.deep_merge(rec, fields)
        rec.clear()
        rec.update(merged)
        return rec

    def delete_share(self, sid):
        """Deletes a share; its jobs stay on the printer."""
        rec = self.share(sid)
        self._unlink_share(rec)
        self.jobs_by_share.pop(sid, None)
        self.shares.remove(sid)

    def patch_user(self, key, fields):
        """Merges Graph fields into a user (a new userPrincipalName is
        re-indexed)."""
        rec = self.user(key)
        fields = {k: v for k, v in fields.items()
                  if k != "id" and not k.startswith("_")}
        upn = fields.get("userPrincipalName")
        if upn is not None:
            other = self.user_by_upn.get(upn.lower())
            if other not in (None, rec["id"]):
                raise GraphError(409, "conflict", "userPrincipalName '%s' is "
                                 "taken" % upn)
            del self.user_by_upn[rec["userPrincipalName"].lower()]
            self.user_by_upn[upn.lower()] = rec["id"]
        rec.update(fields)
        return rec

    def delete_user(self, key):
        """Deletes a user, and its references: share access lists, group
        memberships (as the directory does)."""
        rec = self.user(key)
        self.users.remove(rec["id"])
        self.user_by_upn.pop(rec["userPrincipalName"].lower(), None)
        for share in self.shares.records():
            if rec["id"] in share["_allowedUsers"]:
                share["_allowedUsers"].remove(rec["id"])
        for group in self.groups.records():
            if rec["id"] in group.get("_members", []):
                group["_members"].remove(rec["id"])
        return rec

    def delete_group(self, gid):
        """Deletes a group and its place in share access lists."""
        rec = self.group(gid)
        self.groups.remove(gid)
        for share in self.shares.records():
            if gid in share["_allowedGroups"]:
                share["_allowedGroups"].remove(gid)
        return rec

    def delete_job(self, jid):
        rec = self.jobs.remove(jid)
        self.jobs_by_printer.get(rec["_printerId"], []).remove(jid)
        by_share = self.jobs_by_share.get(rec.get("_shareId"))
        if by_share and jid in by_share:
            by_share.remove(jid)
        by_user = self.jobs_by_user.get((rec.get("createdBy") or {})
                                        .get("id"))
        if by_user and jid in by_user:
            by_user.remove(jid)
        for tid in list(self.tasks_by_job.get(jid, [])):
            self._drop_task(tid)
        return rec

    # --- persistence --------------------------------------------------------

    def dump(self):
        """Everything, internals included, as JSON-able data."""
        return {
            "format": 1, "tenant": self.tenant, "settings": self.settings,
            "nextSeq": self.next_seq, "nextJobId": self.next_job_id,
            "collections": {k: self.c[k].records() for k in KINDS},
        }

    @classmethod
    def load(cls, data):
        state = cls(data.get("tenant", "empty"))
        state.settings = data.get("settings", state.settings)
        colls = data.get("collections", {})
        for kind in ("users", "groups", "connectors", "services", "printers",
                     "shares", "operations", "jobs", "taskDefinitions",
                     "taskTriggers", "tasks"):
            for rec in colls.get(kind, []):
                state.add(kind, rec)
        state.next_seq = max(state.next_seq, data.get("nextSeq", 1))
        state.next_job_id = max(state.next_job_id, data.get("nextJobId", 1))
        return state

    def save(self, path):
        """Writes dump() to path atomically."""
        with self.lock:
            data = json.dumps(self.dump(), ensure_ascii=False,
                              default=_saved_value)
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
