"""Command line and lifetime: parse options, build or load the state,
serve until SIGTERM/SIGINT, save the state, remove the temp directory of
uploaded documents, exit 0."""

import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading

from . import auth, tenants
from .app import App
from .faults import Faults
from .server import Server
from .state import State

USAGE_EXAMPLE = """\
The first line on stdout is the base URL (e.g. http://127.0.0.1:43123).
Graph: {base}/v1.0 and {base}/beta; OAuth2 authority: {base}/{tenant};
test routes: {base}/_emulator/... (see tools/emulator/control.py)."""


def host_name(value):
    """--transfer-host: a name or an IP address, without a port (the
    request's port is kept)."""
    bare = value.strip("[]")
    if not bare or "/" in bare or bare.count(":") == 1:
        raise argparse.ArgumentTypeError(
            "%r: a host name or address without a port" % value)
    return bare


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="up-emulator",
        description="A local, stateful emulator of the Microsoft Graph "
                    "Universal Print API.", epilog=USAGE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0,
                   help="TCP port (default 0: a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--tenant", choices=sorted(tenants.BUILDERS),
                   default="demo", help="seed data (default demo)")
    p.add_argument("--faults", default="", metavar="SPEC",
                   help="inject faults, e.g. 429:0.2:1,500:0.1,route=/jobs")
    p.add_argument("--seed", type=int, default=1,
                   help="RNG seed for faults (default 1)")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a self-signed certificate for "
                   "127.0.0.1 and localhost, made at start with openssl")
    p.add_argument("--tls-cert-out", metavar="FILE",
                   help="with --tls: write the certificate (the CA a "
                   "client must trust) to FILE")
    p.add_argument("--state", metavar="FILE",
                   help="load state from FILE if it exists; save on exit")
    p.add_argument("--page-size", type=int, default=100, metavar="N",
                   help="default page size of collections (default 100)")
    p.add_argument("--job-quota", type=int, default=10000, metavar="N",
                   help="jobs a user may create in 12 days; beyond: 403 "
                        "quotaLimitReached (default 10000)")
    p.add_argument("--job-seconds", type=float, default=2.0, metavar="S",
                   help="seconds from a job's start to completed "
                        "(default 2; 0: at once)")
    p.add_argument("--upload-session-seconds", type=float, default=3600.0,
                   metavar="N", help="lifetime of an upload session "
                                     "(default 3600)")
    p.add_argument("--operation-seconds", type=float, default=1.0,
                   metavar="S", help="seconds a printer-create operation "
                   "runs before the printer is registered (default 1; 0: "
                   "at the next request)")
    p.add_argument("--lists-omit-details", action="store_true",
                   help="printer and share lists leave out defaults and "
                   "capabilities even when $select names them")
    p.add_argument("--transfer-host", metavar="HOST", type=host_name,
                   help="the host name of upload and download URLs, on "
                   "the port the client used. The service serves them "
                   "from another host than Graph's, so by default a "
                   "client of 127.0.0.1 gets localhost and one of "
                   "localhost 127.0.0.1 (both in the --tls certificate; "
                   "only with --host 127.0.0.1 or 0.0.0.0); 'same': the "
                   "host the client used")
    p.add_argument("--verbose", action="store_true",
                   help="log each request to stderr")
    sign_in_options(p)
    return p.parse_args(argv)


def transfer_host(args):
    """--transfer-host, or None (the other loopback name) where both
    names reach this emulator: it listens on 127.0.0.1 (or every IPv4
    address), which localhost resolves to as well."""
    if args.transfer_host:
        return args.transfer_host
    return None if args.host in ("127.0.0.1", "0.0.0.0") else "same"


def sign_in_options(p):
    """The device-code flow and token lifetimes (tools/emulator/auth.py)."""
    g = p.add_argument_group("sign-in")
    g.add_argument("--device-approve-after", type=int, default=2,
                   metavar="N", help="device-code polls answered "
                   "authorization_pending before the outcome (default 2)")
    g.add_argument("--device-mode", choices=auth.DEVICE_MODES,
                   default="approve", help="the outcome of a device-code "
                   "sign-in; slow_down answers the first poll slow_down, "
                   "then approves (default approve)")
    g.add_argument("--device-interval", type=int, default=5, metavar="S",
                   help="seconds between polls the device code asks for "
                   "(default 5)")
    g.add_argument("--device-code-seconds", type=int, default=900,
                   metavar="S", help="lifetime of a device code (default "
                   "900)")
    g.add_argument("--device-user", default="admin@contoso.com",
                   metavar="UPN", help="who approves device-code sign-ins "
                   "(default admin@contoso.com)")
    g.add_argument("--access-token-seconds", type=int,
                   default=auth.ACCESS_LIFETIME, metavar="S",
                   help="lifetime of access tokens from the token endpoint "
                   "(default %d)" % auth.ACCESS_LIFETIME)
    g.add_argument("--refresh-token-seconds", type=int,
                   default=auth.REFRESH_LIFETIME, metavar="S",
                   help="lifetime of refresh tokens (default 90 days)")
    g.add_argument("--refresh-single-use", action="store_true",
                   help="refuse a refresh token once it has been used "
                   "(every refresh rotates it)")


def configure_sign_in(args):
    """Applies the sign-in options; the error text, or None."""
    try:
        auth.SETTINGS.update({
            "deviceApproveAfter": args.device_approve_after,
            "deviceMode": args.device_mode,
            "deviceInterval": args.device_interval,
            "deviceCodeSeconds": args.device_code_seconds,
            "deviceUser": args.device_user,
            "accessTokenSeconds": args.access_token_seconds,
            "refreshTokenSeconds": args.refresh_token_seconds,
            "refreshSingleUse": args.refresh_single_use})
    except ValueError as exc:
        return str(exc)
    return None


def load_state(args):
    if args.state and os.path.exists(args.state):
        with open(args.state, encoding="utf-8") as fh:
            return State.load(json.load(fh))
    return tenants.build(args.tenant)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.page_size < 1:
        print("up-emulator: --page-size must be at least 1", file=sys.stderr)
        return 2
    if args.job_quota < 0 or args.job_seconds < 0 or \
            args.operation_seconds < 0 or args.upload_session_seconds <= 0:
        print("up-emulator: --job-quota, --job-seconds and "
              "--operation-seconds must be at least 0, "
              "--upload-session-seconds more than 0", file=sys.stderr)
        return 2
    why = configure_sign_in(args)
    if why:
        print("up-emulator: %s" % why, file=sys.stderr)
        return 2
    try:
        faults = Faults(args.faults, args.seed)
    except ValueError as exc:
        print("up-emulator: --faults: %s" % exc, file=sys.stderr)
        return 2
    try:
        state = load_state(args)
    except (OSError, ValueError, KeyError) as exc:
        print("up-emulator: cannot load state '%s': %s" % (args.state, exc),
              file=sys.stderr)
        return 2
    app = App(state, faults, args.page_size, job_quota=args.job_quota,
              job_seconds=args.job_seconds,
              upload_seconds=args.upload_session_seconds,
              operation_seconds=args.operation_seconds,
              lists_omit_details=args.lists_omit_details,
              transfer_host=transfer_host(args))
    try:
        return serve(args, app)
    finally:
        app.close()         # the documents and upload sessions on disk


def tls_context(args, workdir):
    """A server context with a fresh self-signed certificate (openssl),
    also written to --tls-cert-out for clients to trust."""
    cert = os.path.join(workdir, "emulator-cert.pem")
    key = os.path.join(workdir, "emulator-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj",
         "/CN=up-emulator", "-addext",
         "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"],
        check=True, capture_output=True)
    if args.tls_cert_out:
        shutil.copyfile(cert, args.tls_cert_out)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def serve(args, app):
    tls = None
    if args.tls:
        try:
            tls = tls_context(args, app.uploads.root)
        except (OSError, subprocess.CalledProcessError) as exc:
            print("up-emulator: --tls: cannot make a certificate: %s"
                  % exc, file=sys.stderr)
            return 2
    try:
        server = Server((args.host, args.port), app, args.verbose, tls)
    except OSError as exc:
        print("up-emulator: cannot listen on %s:%d: %s"
              % (args.host, args.port, exc.strerror or exc), file=sys.stderr)
        return 2
    state = app.state

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    print(server.base_url, flush=True)
    if args.verbose:
        print("up-emulator: tenant %s, %d printers, %d shares, %d jobs"
              % (state.tenant, len(state.printers), len(state.shares),
                 len(state.jobs)), file=sys.stderr)
    while not stop.wait(3600):
        pass
    server.shutdown()
    server.server_close()
    if args.state:
        try:
            app.state.save(args.state)
        except OSError as exc:
            print("up-emulator: cannot save state '%s': %s"
                  % (args.state, exc), file=sys.stderr)
            return 1
    return 0
