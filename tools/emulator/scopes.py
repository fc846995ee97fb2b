"""Which delegated scopes each print call takes (reference §3.0).

A delegated token must carry one of the scopes the reference lists for
the call in its `scp` claim, else the reply is the print service's
missing-scope 403 (§5.2). App-only tokens are checked where their calls
are served (auth.check_app_allowed and the handlers' require_permission),
and here where reading jobs takes a role (APP_TABLE).
Calls the table does not name (the directory, reports, task definitions,
the upload URLs) are not checked here.

Tokens from the token endpoint carry the scopes asked for (GRANTABLE
only; `.default` or nothing asked: auth.DELEGATED_SCOPES); tokens minted
for tests carry DELEGATED_SCOPES unless told otherwise."""

import functools
import re

from .wire import GraphError

PR_READ = ("Printer.Read.All", "Printer.ReadWrite.All",
           "Printer.FullControl.All")
PR_WRITE = ("Printer.ReadWrite.All", "Printer.FullControl.All")
PR_FULL = ("Printer.FullControl.All",)
PR_CREATE = ("Printer.Create", "Printer.FullControl.All",
             "Printer.ReadWrite.All")
CONN_READ = ("PrintConnector.Read.All", "PrintConnector.ReadWrite.All")
CONN_WRITE = ("PrintConnector.ReadWrite.All",)
SHARE_BASIC = ("PrinterShare.ReadBasic.All", "PrinterShare.Read.All",
               "PrinterShare.ReadWrite.All")
SHARE_READ = ("PrinterShare.Read.All", "PrinterShare.ReadWrite.All")
SHARE_WRITE = ("PrinterShare.ReadWrite.All",)
JOB_READ = ("PrintJob.ReadBasic", "PrintJob.Read", "PrintJob.Read.All",
            "PrintJob.ReadBasic.All", "PrintJob.ReadWrite",
            "PrintJob.ReadWrite.All", "PrintJob.ReadWriteBasic",
            "PrintJob.ReadWriteBasic.All")
# #12 and #15 list PrintJob.Create; #29 (a share's jobs) lists
# PrintJob.ReadWriteBasic as least privileged, and §11 #10 says the docs
# disagree: both are taken.
JOB_CREATE = ("PrintJob.Create", "PrintJob.ReadWriteBasic",
              "PrintJob.ReadWrite", "PrintJob.ReadWriteBasic.All",
              "PrintJob.ReadWrite.All")
JOB_CANCEL = ("PrintJob.ReadWriteBasic", "PrintJob.ReadWrite",
              "PrintJob.ReadWriteBasic.All", "PrintJob.ReadWrite.All")
JOB_UPLOAD = ("PrintJob.Create", "PrintJob.ReadWrite",
              "PrintJob.ReadWrite.All")
JOB_BYTES = ("PrintJob.Read", "PrintJob.Read.All", "PrintJob.ReadWrite",
             "PrintJob.ReadWrite.All")
SETTINGS_READ = ("PrintSettings.Read.All", "PrintSettings.ReadWrite.All")
SETTINGS_WRITE = ("PrintSettings.ReadWrite.All",)
OPERATION_READ = ("Printer.Create", "Printer.ReadWrite.All",
                  "Printer.FullControl.All")
ANY_PRINT = tuple(sorted(set(
    PR_READ + PR_CREATE + CONN_READ + SHARE_BASIC + JOB_READ + JOB_CREATE +
    SETTINGS_READ)))

# Every scope the emulator's tenant consents to when asked by name.
GRANTABLE = frozenset(ANY_PRINT + (
    "PrintJob.Manage.All", "Reports.Read.All", "User.Read",
    "User.ReadBasic.All", "User.Read.All", "Group.Read.All",
    "GroupMember.Read.All", "Directory.Read.All",
    "RoleManagement.Read.Directory"))

# A share is reached as /print/shares/{}, /print/printerShares/{} (an old
# spelling) or /print/printers/{}/shares/{}.
_SHARE = r"/print/(?:shares|printerShares|printers/\{\}/shares)/\{\}"
_JOB = r"/print/(?:shares|printerShares|printers)/\{\}/jobs/\{\}"

# (method, template with each {name} as {}), first match wins.
TABLE = [(m, re.compile(t + "$"), s) for m, t, s in [
    ("GET", r"/print/printers", PR_READ),
    ("GET", r"/print/printers/\{\}", PR_READ),
    ("GET", _SHARE + r"/printer", PR_READ),
    ("PATCH", r"/print/printers/\{\}", PR_WRITE),
    ("DELETE", r"/print/printers/\{\}", PR_FULL),
    ("POST", r"/print/printers/create", PR_CREATE),
    ("GET", r"/print/operations(?:/\{\})?", OPERATION_READ),
    ("POST", r"/print/printers/\{\}/restoreFactoryDefaults", PR_WRITE),
    ("GET", r"/print/printers/\{\}/connectors", CONN_READ),
    ("GET", r"/print/printers/\{\}/shares", SHARE_BASIC),
    ("GET", r"/print/printers/\{\}/taskTriggers(?:/\{\})?", PR_READ),
    ("POST", r"/print/printers/\{\}/taskTriggers", PR_WRITE),
    ("DELETE", r"/print/printers/\{\}/taskTriggers/\{\}", PR_WRITE),
    ("GET", _JOB + r"/documents/\{\}/\$value", JOB_BYTES),
    ("POST", _JOB + r"/documents/\{\}/createUploadSession", JOB_UPLOAD),
    ("GET", _JOB + r"(?:/documents(?:/\{\})?)?", JOB_READ),
    ("POST", _JOB + r"/start", JOB_CREATE),
    ("POST", _JOB + r"/cancel", JOB_CANCEL),
    ("GET", r"/print/(?:shares|printerShares|printers)/\{\}/jobs", JOB_READ),
    ("POST", r"/print/(?:shares|printerShares|printers)/\{\}/jobs",
     JOB_CREATE),
    ("GET", _SHARE + r"/allowed(?:Users|Groups)", SHARE_READ),
    ("POST", _SHARE + r"/allowed(?:Users|Groups)/\$ref", SHARE_WRITE),
    ("DELETE", _SHARE + r"/allowed(?:Users|Groups)(?:/\{\})?/\$ref",
     SHARE_WRITE),
    ("GET", r"/print/(?:shares|printerShares)", SHARE_BASIC),
    ("GET", _SHARE, SHARE_BASIC),
    ("POST", r"/print/(?:shares|printerShares)", SHARE_WRITE),
    ("PATCH", _SHARE, SHARE_WRITE),
    ("DELETE", _SHARE, SHARE_WRITE),
    ("DELETE", r"/print/printers/\{\}/share", SHARE_WRITE),
    ("GET", r"/print/connectors(?:/\{\})?", CONN_READ),
    ("PATCH", r"/print/connectors/\{\}", CONN_WRITE),
    ("DELETE", r"/print/connectors/\{\}", CONN_WRITE),
    ("GET", r"/print/services(?:/\{\}(?:/endpoints(?:/\{\})?)?)?",
     ANY_PRINT),
    ("GET", r"/print/settings", SETTINGS_READ),
    ("PATCH", r"/print/settings", SETTINGS_WRITE),
]]

# App-only tokens, where the reference's table names roles the defaults
# do not cover (auth.check_app_allowed, require_permission): reading jobs
# (#11, #13) takes a job read role, which PrintJob.Manage.All (redirect)
# is not.
APP_JOB_READ = ("PrintJob.ReadBasic.All", "PrintJob.Read.All",
                "PrintJob.ReadWrite.All", "PrintJob.ReadWriteBasic.All")
APP_TABLE = [(m, re.compile(t + "$"), s) for m, t, s in [
    ("GET", _JOB + r"(?:/documents(?:/\{\})?)?", APP_JOB_READ),
    ("GET", r"/print/(?:shares|printerShares|printers)/\{\}/jobs",
     APP_JOB_READ),
]]

_NAME = re.compile(r"\{[^}]*\}")


@functools.lru_cache(maxsize=None)
def needed(method, template, app=False):
    """The scopes (app: roles) one of which a token needs for the call,
    or None when the table does not name it. Remembered per route: the
    table is read once for each, not at every request."""
    shape = _NAME.sub("{}", template)
    for m, pattern, scopes in APP_TABLE if app else TABLE:
        if m == method and pattern.match(shape):
            return scopes
    return None


def check(req):
    """403 for a delegated token that lacks every scope the call takes,
    or an app-only token every role APP_TABLE names for it."""
    kind = req.claims.get("kind")
    if kind not in ("delegated", "app"):
        return
    scopes = needed(req.route.method, req.route.template, kind == "app")
    granted = set(req.claims.get("roles") or []) if kind == "app" else \
        set((req.claims.get("scp") or "").split())
    if scopes is not None and not granted.intersection(scopes):
        raise GraphError(
            403, "UnknownError",
            '"The token does not have one or more required security '
            'scopes."')


def granted(asked, default):
    """The scp of a token asked for with `asked` (a space-separated scope
    parameter): Graph's scopes named in it that the tenant grants, all
    of `default` for `.default`; None when it names none (the caller
    decides)."""
    names = set()
    for scope in (asked or "").split():
        name = scope.rsplit("/", 1)[-1] if scope.startswith("https://") \
            else scope
        if name == ".default":
            return default
        if name in GRANTABLE:
            names.add(name)
    return " ".join(sorted(names)) if names else None
