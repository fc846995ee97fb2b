"""Tokens and the OAuth2 token endpoint.

Access and refresh tokens are self-describing so they survive restarts:
base64url(JSON payload) + "." + base64url(HMAC-SHA256(payload part)),
keyed with a fixed emulator key. Payload of an access token:
{"kind": "delegated"|"app", "upn", "oid", "appid", "scp"|"roles", "exp"}.
A refresh token has kind "refresh"."""

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qsl

from . import util
from .wire import GraphError, Reply

KEY = b"upfs-emulator-signing-key-v1"
ACCESS_LIFETIME = 3599
REFRESH_LIFETIME = 90 * 24 * 3600

# Confidential clients known to the emulator: client_id -> secret.
CLIENTS = {"upfs-demo-app": "demo-secret"}

DELEGATED_SCOPES = (
    "Printer.Read.All Printer.ReadWrite.All Printer.FullControl.All "
    "Printer.Create PrinterShare.ReadWrite.All PrintJob.ReadWrite.All "
    "PrintJob.Create PrintConnector.ReadWrite.All "
    "PrintSettings.ReadWrite.All User.Read.All Group.Read.All "
    "offline_access")
APP_ROLES = ["Printer.ReadWrite.All", "PrintJob.ReadWrite.All",
             "PrintJob.Manage.All", "PrintTaskDefinition.ReadWrite.All",
             "User.Read.All", "Group.Read.All"]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def sign(payload):
    body = util.b64url_encode(json.dumps(payload, separators=(",", ":"))
                              .encode("utf-8"))
    mac = hmac.new(KEY, body.encode("ascii"), hashlib.sha256).digest()
    return body + "." + util.b64url_encode(mac)


def unsign(token):
    """The payload of a token we signed, or raises ValueError(why) where
    why is "malformed" or "signature"."""
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
    payload = {"kind": kind, "appid": appid,
               "exp": int(time.time()) + int(expires_in)}
    if kind == "app":
        payload["oid"] = util.seed_id("sp/" + appid)
        payload["roles"] = list(roles or APP_ROLES)
    else:
        payload["upn"] = upn
        payload["oid"] = _user_oid(state, upn)
        payload["scp"] = scp or DELEGATED_SCOPES
    return sign(payload)


def mint_refresh(state, upn, appid=None):
    return sign({"kind": "refresh", "upn": upn, "oid": _user_oid(state, upn),
                 "appid": appid,
                 "exp": int(time.time()) + REFRESH_LIFETIME})


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
        raise _unauthorized(
            "Lifetime validation failed, the token is expired.")
    req.claims = claims


def check_app_allowed(req):
    """403 for app-only tokens on routes that only take delegated ones."""
    if req.claims.get("kind") == "app" and not req.route.app_ok:
        raise GraphError(
            403, "accessDenied",
            "The token does not have one or more required security scopes: "
            "this operation supports delegated (user) tokens only.")


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
    token = mint_access(state, kind="app", appid=client_id)
    return _token_reply({"token_type": "Bearer",
                         "expires_in": ACCESS_LIFETIME,
                         "ext_expires_in": ACCESS_LIFETIME,
                         "access_token": token})


def _refresh_token(form, state):
    try:
        claims = unsign(form.get("refresh_token", ""))
    except ValueError:
        claims = None
    if not claims or claims.get("kind") != "refresh":
        return _oauth_error(400, "invalid_grant", 9002313,
                            "Invalid request. Request is malformed or "
                            "invalid.")
    if claims.get("exp", 0) <= time.time():
        return _oauth_error(400, "invalid_grant", 700082,
                            "The refresh token has expired due to "
                            "inactivity.")
    bound = claims.get("appid")
    client_id = form.get("client_id") or bound or "upfs-emulator"
    if bound and client_id != bound:
        return _oauth_error(400, "invalid_grant", 70000,
                            "Provided grant is invalid or malformed: the "
                            "refresh token was issued to a different client.")
    upn = claims.get("upn")
    with state.lock:
        known = (upn or "").lower() in state.user_by_upn
    if not known:
        return _oauth_error(400, "invalid_grant", 50034,
                            "The user account %s does not exist in the "
                            "tenant directory." % upn)
    return _token_reply({
        "token_type": "Bearer", "scope": DELEGATED_SCOPES,
        "expires_in": ACCESS_LIFETIME, "ext_expires_in": ACCESS_LIFETIME,
        "access_token": mint_access(state, upn, appid=client_id),
        "refresh_token": mint_refresh(state, upn, bound),
    })


# grant_type -> handler(form, state). The device-code grant (and the
# /devicecode endpoint) arrive with the sign-in issue: add its handler here.
GRANTS = {
    "client_credentials": _client_credentials,
    "refresh_token": _refresh_token,
}


def devicecode_endpoint(req, state):
    """POST {base}/{tenant}/oauth2/v2.0/devicecode — not served yet."""
    return _oauth_error(400, "invalid_request", 50049,
                        "The device code flow is not implemented by the "
                        "emulator yet.")
