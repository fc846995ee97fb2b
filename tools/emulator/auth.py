"""Tokens, the OAuth2 token endpoint and the device-code flow.

Access and refresh tokens are self-describing so they survive restarts:
base64url(JSON payload) + "." + base64url(HMAC-SHA256(payload part)),
keyed with a fixed emulator key. Payload of an access token:
{"kind": "delegated"|"app", "upn", "oid", "appid", "scp"|"roles", "exp",
"iat", "gen"}. A refresh token has kind "refresh" and a "jti".

The sign-in side (SETTINGS, set from the command line by main.py and at
run time by POST /_emulator/auth):
  * POST {tenant}/oauth2/v2.0/devicecode hands out a device code; polls of
    the token endpoint answer authorization_pending device_approve_after
    times, then the outcome of device_mode: approve (tokens for
    device_user), deny (authorization_declined) or expire
    (expired_token); slow_down answers the first poll with slow_down
    first. Any poll sooner than the code's interval (which grows by 5 s
    with every slow_down, RFC 8628 §3.5) is answered slow_down too.
  * Access tokens from the token endpoint live access_seconds; refresh
    tokens refresh_seconds. Every refresh returns a new refresh token
    (rotation); with refresh_single_use an old one is refused once used.
  * POST /_emulator/auth/revoke makes every access and/or refresh token
    issued so far invalid (a "generation" claim older than the current).
  * Tokens of the client-credentials grant carry app_roles ("appRoles":
    the application permissions an admin consented to; APP_ROLES by
    default).
GET /_emulator/auth shows the settings, counters and device codes."""

import hashlib
import hmac
import json
import secrets
import threading
import time
from urllib.parse import parse_qsl

from . import scopes, util
from .wire import GraphError, Reply

KEY = b"upfs-emulator-signing-key-v1"
ACCESS_LIFETIME = 3599
VERIFIED = {}                # token -> payload of a signature that passed
VERIFIED_LIMIT = 4096
REFRESH_LIFETIME = 90 * 24 * 3600

# Confidential clients known to the emulator: client_id -> secret.
CLIENTS = {"upfs-demo-app": "demo-secret"}

DELEGATED_SCOPES = (
    "Printer.Read.All Printer.ReadWrite.All Printer.FullControl.All "
    "Printer.Create PrinterShare.ReadWrite.All PrintJob.ReadWrite.All "
    "PrintJob.Create PrintConnector.ReadWrite.All "
    "PrintSettings.ReadWrite.All User.Read.All Group.Read.All "
    "RoleManagement.Read.Directory Reports.Read.All offline_access")
APP_ROLES = ["Printer.ReadWrite.All", "PrintJob.ReadWrite.All",
             "PrintJob.Manage.All", "PrintTaskDefinition.ReadWrite.All",
             "User.Read.All", "Group.Read.All", "Reports.Read.All"]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_MODES = ("approve", "deny", "expire", "slow_down")
VERIFICATION_URI = "https://microsoft.com/devicelogin"


class Settings:
    """How the sign-in side behaves; see the module comment."""

    def __init__(self):
        self.device_approve_after = 2
        self.device_mode = "approve"
        self.device_interval = 5
        self.device_code_seconds = 900
        self.device_user = "admin@contoso.com"
        self.access_seconds = ACCESS_LIFETIME
        self.refresh_seconds = REFRESH_LIFETIME
        self.refresh_single_use = False
        self.app_roles = list(APP_ROLES)

    FIELDS = {"deviceApproveAfter": ("device_approve_after", int),
              "deviceMode": ("device_mode", str),
              "deviceInterval": ("device_interval", int),
              "deviceCodeSeconds": ("device_code_seconds", int),
              "deviceUser": ("device_user", str),
              "accessTokenSeconds": ("access_seconds", int),
              "refreshTokenSeconds": ("refresh_seconds", int),
              "refreshSingleUse": ("refresh_single_use", bool),
              "appRoles": ("app_roles", list)}

    def view(self):
        return {k: getattr(self, attr) for k, (attr, _) in
                self.FIELDS.items()}

    def update(self, fields):
        """Sets fields given by their JSON names; ValueError(why)."""
        for key, value in fields.items():
            if key not in self.FIELDS:
                raise ValueError("unknown setting %r" % key)
            attr, kind = self.FIELDS[key]
            if not isinstance(value, kind) or (kind is int and (
                    isinstance(value, bool) or value < 0)):
                raise ValueError("%s must be a %s%s" % (
                    key, kind.__name__, " >= 0" if kind is int else ""))
            if kind is list and not all(isinstance(v, str)
                                        for v in value):
                raise ValueError("%s must be a list of strings" % key)
            if key == "deviceMode" and value not in DEVICE_MODES:
                raise ValueError("deviceMode must be one of %s"
                                 % ", ".join(DEVICE_MODES))
            setattr(self, attr, value)


class _Sessions:
    """Device codes, revocation generations, used refresh tokens, counts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.devices = {}           # device_code -> record
        self.gen = {"access": 0, "refresh": 0}
        self.used_refresh = set()   # jti
        self.counts = {"deviceCodes": 0, "devicePolls": 0, "slowDowns": 0,
                       "refreshGrants": 0, "refusedRefresh": 0,
                       "refusedBearer": 0}
        self.refresh_at = {}        # tenant segment -> refresh grants there

    def count(self, key):
        with self.lock:
            self.counts[key] += 1

    def count_refresh_at(self, tenant):
        with self.lock:
            self.refresh_at[tenant] = self.refresh_at.get(tenant, 0) + 1


SETTINGS = Settings()
SESSIONS = _Sessions()


def sign(payload):
    body = util.b64url_encode(json.dumps(payload, separators=(",", ":"))
                              .encode("utf-8"))
    mac = hmac.new(KEY, body.encode("ascii"), hashlib.sha256).digest()
    return body + "." + util.b64url_encode(mac)


def unsign(token):
    """The payload of a token we signed, or raises ValueError(why) where
    why is "malformed" or "signature". A client sends one token many
    times: the HMAC and JSON of each were a tenth of the emulator's CPU per
    request, so tokens that passed are remembered (the payload is a pure
    function of the token; expiry and revocation are checked by callers)."""
    payload = VERIFIED.get(token)
    if payload is None:
        payload = _unsign(token)
        if len(VERIFIED) >= VERIFIED_LIMIT:
            VERIFIED.clear()
        VERIFIED[token] = payload
    return {k: list(v) if isinstance(v, list) else v
            for k, v in payload.items()}


def _unsign(token):
    parts = token.split(".")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError("malformed")
    try:
        mac = util.b64url_decode(parts[1])
        payload = json.loads(util.b64url_decode(parts[0]))
    except ValueError:
        raise ValueError("malformed") from None
    want = hmac.new(KEY, parts[0].encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(mac, want) or not isinstance(payload, dict):
        raise ValueError("signature")
    return payload


def mint_access(state, upn=None, kind="delegated", expires_in=ACCESS_LIFETIME,
                appid="upfs-emulator", scp=None, roles=None):
    """A signed access token. Delegated tokens carry the user's oid (the
    tenant's user id when the UPN is known) and scp; app tokens roles."""
    now = int(time.time())
    payload = {"kind": kind, "appid": appid, "iat": now,
               "gen": SESSIONS.gen["access"],
               "jti": secrets.token_hex(6),
               "exp": now + int(expires_in)}
    if kind == "app":
        payload["oid"] = util.seed_id("sp/" + appid)
        payload["roles"] = list(roles or APP_ROLES)
    else:
        payload["upn"] = upn
        payload["oid"] = _user_oid(state, upn)
        payload["scp"] = scp or DELEGATED_SCOPES
    return sign(payload)


def mint_refresh(state, upn, appid=None, scp=None):
    """A refresh token; scp: the scopes its access tokens carry when a
    refresh asks for none (None: DELEGATED_SCOPES)."""
    return sign({"kind": "refresh", "upn": upn, "oid": _user_oid(state, upn),
                 "appid": appid, "jti": secrets.token_hex(12),
                 "gen": SESSIONS.gen["refresh"],
                 "scp": scp or DELEGATED_SCOPES,
                 "exp": int(time.time()) + SETTINGS.refresh_seconds})


def mint_id_token(state, upn, client_id, tenant):
    """An OpenID Connect id_token: a three-part JWT (HS256 with the
    emulator's key) naming the user."""
    now = int(time.time())
    with state.lock:
        uid = state.user_by_upn.get((upn or "").lower())
        rec = state.users.get(uid) if uid else None
    header = util.b64url_encode(json.dumps(
        {"typ": "JWT", "alg": "HS256", "kid": "upfs-emulator"}).encode())
    body = util.b64url_encode(json.dumps({
        "aud": client_id, "iss": "https://login.microsoftonline.com/%s/v2.0"
        % util.seed_id("tenant/" + tenant), "iat": now, "nbf": now,
        "exp": now + 3600, "name": (rec or {}).get("displayName", upn),
        "oid": _user_oid(state, upn), "preferred_username": upn,
        "sub": util.seed_id("sub/" + (upn or "")),
        "tid": util.seed_id("tenant/" + tenant), "ver": "2.0"},
        separators=(",", ":")).encode())
    mac = hmac.new(KEY, (header + "." + body).encode("ascii"),
                   hashlib.sha256).digest()
    return header + "." + body + "." + util.b64url_encode(mac)


def _user_oid(state, upn):
    with state.lock:
        uid = state.user_by_upn.get((upn or "").lower())
    return uid or util.seed_id("user/" + (upn or "").lower())


# --- checking a Graph request ------------------------------------------------

WWW_AUTH = ('Bearer realm="", authorization_uri="https://login.microsoftonline'
            '.com/common/oauth2/authorize", client_id="00000003-0000-0000-'
            'c000-000000000000"')


def _unauthorized(message):
    return GraphError(401, "InvalidAuthenticationToken", message,
                      {"WWW-Authenticate": WWW_AUTH})


def check_bearer(req):
    """Sets req.claims from the Authorization header or raises 401."""
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Access token is empty.")
    try:
        claims = unsign(token)
    except ValueError as exc:
        if str(exc) == "malformed":
            raise _unauthorized(
                "IDX14100: JWT is not well formed, there are no dots (.). "
                "The token needs to be in JWS or JWE Compact Serialization "
                "Format. (JWS): 'EncodedHeader.EndcodedPayload."
                "EncodedSignature'. (JWE): 'EncodedProtectedHeader."
                "EncodedEncryptedKey.EncodedInitializationVector."
                "EncodedCiphertext.EncodedAuthenticationTag'.")
        raise _unauthorized(
            "IDX10511: Signature validation failed. Keys tried: "
            "'upfs-emulator-key'. The token was not signed by the emulator.")
    if claims.get("kind") not in ("delegated", "app"):
        raise _unauthorized("Invalid audience: this is not an access token.")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        SESSIONS.count("refusedBearer")
        raise _unauthorized(
            "Lifetime validation failed, the token is expired.")
    if claims.get("gen", 0) < SESSIONS.gen["access"]:
        SESSIONS.count("refusedBearer")
        raise _unauthorized("The token has been revoked.")
    req.claims = claims


def check_app_allowed(req):
    """403 for app-only tokens on routes that only take delegated ones."""
    if req.claims.get("kind") == "app" and not req.route.app_ok:
        raise GraphError(
            403, "accessDenied",
            "The token does not have one or more required security scopes: "
            "this operation supports delegated (user) tokens only.")


def require_permission(req, permission):
    """403 unless the token carries permission: in `scp` (delegated) or
    `roles` (app-only). Routes that need a permission beyond the defaults
    call this first; the body is the print service's missing-scope reply
    (reference §5.2: code UnknownError, a message in literal quotes)."""
    if req.claims.get("kind") == "app":
        granted = req.claims.get("roles") or []
    else:
        granted = (req.claims.get("scp") or "").split()
    if permission not in granted:
        raise GraphError(
            403, "UnknownError",
            '"The token does not have one or more required security '
            'scopes."')


# --- the token endpoint ------------------------------------------------------

def _oauth_error(status, error, aadsts, description):
    stamp = util.now().strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = util.new_id(), util.new_id()
    body = {
        "error": error,
        "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s "
                             "Timestamp: %s" % (aadsts, description, trace,
                                                corr, stamp),
        "error_codes": [aadsts], "timestamp": stamp,
        "trace_id": trace, "correlation_id": corr,
    }
    return Reply(status, body, {"Content-Type": "application/json; "
                                "charset=utf-8", "Cache-Control": "no-store"})


def _token_reply(body):
    return Reply(200, body, {"Content-Type": "application/json; charset=utf-8",
                             "Cache-Control": "no-store"})


def token_endpoint(req, state):
    """POST {base}/{tenant}/oauth2/v2.0/token (form-encoded)."""
    try:
        form = dict(parse_qsl(req.body.decode("utf-8"),
                              keep_blank_values=True))
    except UnicodeDecodeError:
        form = {}
    grant = form.get("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", 900144,
                            "The request body must contain the following "
                            "parameter: 'grant_type'.")
    handler = GRANTS.get(grant)
    if grant == "refresh_token":
        SESSIONS.count_refresh_at(req.params.get("tenant"))
    if handler is None:
        return _oauth_error(400, "unsupported_grant_type", 70003,
                            "The app requested an unsupported grant type "
                            "'%s'." % grant)
    return handler(form, state)


def _client_credentials(form, state):
    client_id = form.get("client_id", "")
    if client_id not in CLIENTS:
        return _oauth_error(400, "unauthorized_client", 700016,
                            "Application with identifier '%s' was not found "
                            "in the directory 'Contoso'." % client_id)
    if form.get("client_secret") != CLIENTS[client_id]:
        return _oauth_error(401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the "
                            "secret being sent in the request is the client "
                            "secret value, not the client secret ID, for a "
                            "secret added to app '%s'." % client_id)
    token = mint_access(state, kind="app", appid=client_id,
                        roles=SETTINGS.app_roles)
    return _token_reply({"token_type": "Bearer",
                         "expires_in": ACCESS_LIFETIME,
                         "ext_expires_in": ACCESS_LIFETIME,
                         "access_token": token})


def _tokens(state, upn, client_id, scope, bound=None, held=None):
    """The reply of a delegated grant: access token, a new refresh token
    when offline_access was asked for, an id_token for openid. The access
    token carries the Graph scopes asked for (scopes.granted); asked for
    none, those of the refresh token used (held), else User.Read, Graph's
    own default. The refresh token keeps them."""
    asked = (scope or "").split()
    scp = scopes.granted(scope, DELEGATED_SCOPES) or held or "User.Read"
    body = {"token_type": "Bearer", "scope": scp,
            "expires_in": SETTINGS.access_seconds,
            "ext_expires_in": SETTINGS.access_seconds,
            "access_token": mint_access(state, upn, appid=client_id,
                                        expires_in=SETTINGS.access_seconds,
                                        scp=scp)}
    if "offline_access" in asked or not asked:
        body["refresh_token"] = mint_refresh(state, upn, bound or client_id,
                                             scp)
    if "openid" in asked:
        body["id_token"] = mint_id_token(state, upn, client_id, state.tenant)
    return _token_reply(body)


def _refresh_refusal(claims):
    """The OAuth2 error for a refresh token that is no longer good, or
    None. Marks a single-use token used."""
    if claims.get("exp", 0) <= time.time():
        return 700082, "The refresh token has expired due to inactivity."
    with SESSIONS.lock:
        if claims.get("gen", 0) < SESSIONS.gen["refresh"]:
            return 50173, ("The provided grant has expired due to it being "
                           "revoked, a fresh auth token is needed.")
        jti = claims.get("jti")
        if SETTINGS.refresh_single_use and jti:
            if jti in SESSIONS.used_refresh:
                return 54005, "The refresh token was already redeemed."
            SESSIONS.used_refresh.add(jti)
    return None


def _refresh_token(form, state):
    try:
        claims = unsign(form.get("refresh_token", ""))
    except ValueError:
        claims = None
    SESSIONS.count("refreshGrants")
    if not claims or claims.get("kind") != "refresh":
        SESSIONS.count("refusedRefresh")
        return _oauth_error(400, "invalid_grant", 9002313,
                            "Invalid request. Request is malformed or "
                            "invalid.")
    bound = claims.get("appid")
    client_id = form.get("client_id") or bound or "upfs-emulator"
    if bound and client_id != bound:
        SESSIONS.count("refusedRefresh")
        return _oauth_error(400, "invalid_grant", 70000,
                            "Provided grant is invalid or malformed: the "
                            "refresh token was issued to a different client.")
    refusal = _refresh_refusal(claims)
    if refusal:
        SESSIONS.count("refusedRefresh")
        return _oauth_error(400, "invalid_grant", refusal[0], refusal[1])
    upn = claims.get("upn")
    with state.lock:
        known = (upn or "").lower() in state.user_by_upn
    if not known:
        SESSIONS.count("refusedRefresh")
        return _oauth_error(400, "invalid_grant", 50034,
                            "The user account %s does not exist in the "
                            "tenant directory." % upn)
    return _tokens(state, upn, client_id,
                   form.get("scope") or "offline_access", bound,
                   claims.get("scp") or DELEGATED_SCOPES)


# --- the device-code flow (RFC 8628) -------------------------------------------

def _form(req):
    try:
        return dict(parse_qsl(req.body.decode("utf-8"),
                              keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def _user_code():
    alphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(9))


def devicecode_endpoint(req, state):
    """POST {base}/{tenant}/oauth2/v2.0/devicecode (form-encoded)."""
    form = _form(req)
    for name in ("client_id", "scope"):
        if not form.get(name):
            return _oauth_error(400, "invalid_request", 900144,
                                "The request body must contain the "
                                "following parameter: '%s'." % name)
    now = time.monotonic()
    rec = {"device_code": secrets.token_urlsafe(48), "user_code": _user_code(),
           "client_id": form["client_id"], "scope": form["scope"],
           "interval": SETTINGS.device_interval,
           "expires": now + SETTINGS.device_code_seconds,
           "mode": SETTINGS.device_mode,
           "approve_after": SETTINGS.device_approve_after,
           "user": SETTINGS.device_user, "polls": 0, "pending": 0,
           "slowDowns": 0, "pollTimes": [], "state": "pending",
           "lastPoll": None}
    with SESSIONS.lock:
        SESSIONS.devices[rec["device_code"]] = rec
        SESSIONS.counts["deviceCodes"] += 1
    return _token_reply({
        "user_code": rec["user_code"], "device_code": rec["device_code"],
        "verification_uri": VERIFICATION_URI,
        "expires_in": SETTINGS.device_code_seconds,
        "interval": SETTINGS.device_interval,
        "message": "To sign in, use a web browser to open the page %s and "
                   "enter the code %s to authenticate."
                   % (VERIFICATION_URI, rec["user_code"])})


def _device_poll(rec, now):
    """Under SESSIONS.lock: what this poll gets, as an OAuth2 error code,
    or None for tokens."""
    rec["polls"] += 1
    rec["pollTimes"].append(round(now, 3))
    too_soon = rec["lastPoll"] is not None and \
        now - rec["lastPoll"] < rec["interval"] - 0.05
    rec["lastPoll"] = now
    if rec["state"] != "pending":
        return "invalid_grant"
    if now >= rec["expires"]:
        rec["state"] = "expired"
        return "expired_token"
    if too_soon or (rec["mode"] == "slow_down" and rec["slowDowns"] == 0):
        rec["interval"] += 5
        rec["slowDowns"] += 1
        SESSIONS.counts["slowDowns"] += 1
        return "slow_down"
    if rec["pending"] < rec["approve_after"]:
        rec["pending"] += 1
        return "authorization_pending"
    outcome = {"deny": "authorization_declined",
               "expire": "expired_token"}.get(rec["mode"])
    rec["state"] = {"authorization_declined": "declined",
                    "expired_token": "expired"}.get(outcome, "approved")
    return outcome


DEVICE_ERRORS = {
    "authorization_pending": (70016, "OAuth 2.0 device flow error. "
                              "Authorization is pending. Continue polling."),
    "slow_down": (70016, "Polling too fast: wait the interval (now "
                  "raised by 5 seconds) between requests."),
    "authorization_declined": (70000, "The user has declined to authorize "
                               "the application."),
    "expired_token": (70019, "Verification code expired."),
    "invalid_grant": (54005, "The device code was already redeemed or "
                      "refused."),
}


def _device_code(form, state):
    with SESSIONS.lock:
        SESSIONS.counts["devicePolls"] += 1
        rec = SESSIONS.devices.get(form.get("device_code", ""))
        if rec is None:
            outcome = "bad_verification_code"
        elif form.get("client_id") != rec["client_id"]:
            outcome = "invalid_client"
        else:
            outcome = _device_poll(rec, time.monotonic())
    if outcome == "bad_verification_code":
        return _oauth_error(400, "bad_verification_code", 70019,
                            "The device code is unknown.")
    if outcome == "invalid_client":
        return _oauth_error(400, "invalid_grant", 70000,
                            "The device code was issued to another client.")
    if outcome:
        code, text = DEVICE_ERRORS[outcome]
        return _oauth_error(400, outcome, code, text)
    return _tokens(state, rec["user"], rec["client_id"], rec["scope"])


# grant_type -> handler(form, state).
GRANTS = {
    "client_credentials": _client_credentials,
    "refresh_token": _refresh_token,
    DEVICE_CODE_GRANT: _device_code,
}


# --- test routes (registered by control.py) ------------------------------------

def control_get(req, app):
    """GET /_emulator/auth: settings, counts and device codes."""
    with SESSIONS.lock:
        devices = [{k: v for k, v in rec.items()
                    if k not in ("device_code", "expires", "lastPoll")}
                   for rec in SESSIONS.devices.values()]
        out = {"settings": SETTINGS.view(), "counts": dict(SESSIONS.counts),
               "refreshAt": dict(SESSIONS.refresh_at),
               "generations": dict(SESSIONS.gen), "deviceCodes": devices}
    return Reply(200, out)


def control_set(req, app):
    """POST /_emulator/auth {"deviceMode": ..., ...}: changes settings."""
    try:
        with SESSIONS.lock:
            SETTINGS.update(req.json())
    except ValueError as exc:
        raise GraphError(400, "BadRequest", str(exc))
    return control_get(req, app)


def control_revoke(req, app):
    """POST /_emulator/auth/revoke {"access": true, "refresh": true}:
    every token of that kind issued so far stops working."""
    body = req.json()
    with SESSIONS.lock:
        for kind in ("access", "refresh"):
            if body.get(kind, True):
                SESSIONS.gen[kind] += 1
    return control_get(req, app)
