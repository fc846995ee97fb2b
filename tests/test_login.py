"""Signing in: `upfsctl login` against the emulator's device-code flow
(pending, slow_down, approval, denial, expiry), the session file it leaves
(mode 0600, never readable by others, refused when it is), `upfsctl
logout`, and a mount that lives on the session: access tokens renewed
before they expire and after a 401, rotated refresh tokens saved, an
expired session reported once while the cache is still served, SIGHUP,
`upfsctl status`. No token ever appears in a log or on a terminal."""

import errno
import hashlib
import os
import re
import signal
import time

import pytest

import signin
import util
from signin import Home, emulator_auth, mode_of, revoke
from test_print import job_ids, make_pdf, new_jobs, pending_entries
from test_print_failures import local_attrs, write_and_close

PROFILE = "work"
# Every listing and status file goes back to the service at once.
FRESH = ["dir_ttl=0", "status_ttl=0"]
EXPIRED_LINE = "session expired: run 'upfsctl login %s'" % PROFILE


@pytest.fixture
def session_mounts(workdir):
    mounts = signin.SessionMounts(workdir)
    yield mounts
    mounts.finish()


def start(start_emulator, *args):
    return start_emulator(extra_args=["--device-interval", "1"] + list(args))


def device(emu):
    codes = emulator_auth(emu)["deviceCodes"]
    assert len(codes) == 1, codes
    return codes[0]


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


def signed_in(home, emu):
    proc = home.upfsctl("login", PROFILE, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def assert_no_token_text(text, home=None):
    # The emulator's tokens are base64url JSON: they start with "eyJ".
    assert "eyJ" not in text, "a token leaked: %s" % text[-2000:]
    if home and os.path.exists(home.session_path):
        rt = home.session()["refresh_token"]
        assert rt not in text and rt[-20:] not in text


# --- upfsctl login ------------------------------------------------------------

def test_login_waits_while_pending_then_saves_the_session(start_emulator,
                                                           workdir):
    emu = start(start_emulator, "--device-approve-after", "2")
    home = Home(workdir, emu, PROFILE)
    proc = signed_in(home, emu)

    code = device(emu)
    assert code["state"] == "approved"
    assert code["pending"] == 2 and code["polls"] == 3, code
    assert code["slowDowns"] == 0, "polled faster than the interval"
    assert all(g >= 0.95 for g in gaps(code["pollTimes"])), code
    assert ("enter the code %s to authenticate" % code["user_code"]) in \
        proc.stdout
    assert "https://microsoft.com/devicelogin" in proc.stdout
    assert "signed in as admin@contoso.com" in proc.stdout
    assert "offline_access" in code["scope"].split()
    assert "https://graph.microsoft.com/PrintJob.ReadWrite.All" in \
        code["scope"].split()

    assert mode_of(home.session_path) == 0o600
    assert mode_of(home.config_dir) & 0o077 == 0 or \
        os.path.exists(home.config_path)    # made by the test, not upfsctl
    session = home.session()
    assert session["user"] == "admin@contoso.com"
    assert session["authority"] == emu.authority
    assert_no_token_text(proc.stdout + proc.stderr, home)


def test_login_makes_a_private_folder_and_file_whatever_the_umask(
        start_emulator, workdir):
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, None, PROFILE)
    env_config = os.path.join(workdir, "elsewhere.conf")
    with open(env_config, "w") as fh:
        fh.write("[work]\nauthority = %s\n" % emu.authority)
    home.env["UPFS_CONFIG"] = env_config
    proc = home.upfsctl("login", PROFILE, umask=0)
    assert proc.returncode == 0, proc.stderr
    assert mode_of(home.config_dir) == 0o700
    assert mode_of(home.session_path) == 0o600
    # Nothing else was left behind (no temporary file).
    assert os.listdir(home.config_dir) == [PROFILE + ".token"]


def test_login_slows_down_when_told(start_emulator, workdir):
    emu = start(start_emulator, "--device-mode", "slow_down",
                "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    began = time.monotonic()
    signed_in(home, emu)
    code = device(emu)
    assert code["slowDowns"] == 1, "the client did not wait the new " \
        "interval: %r" % code
    assert code["interval"] == 6
    assert gaps(code["pollTimes"])[0] >= 5.9, code["pollTimes"]
    assert time.monotonic() - began >= 7
    assert os.path.exists(home.session_path)


@pytest.mark.parametrize("mode,words", [
    ("deny", "the sign-in was declined (authorization_declined)"),
    ("expire", "the code expired before the sign-in finished"),
])
def test_login_refused_or_expired_saves_nothing(start_emulator, workdir,
                                                mode, words):
    emu = start(start_emulator, "--device-mode", mode,
                "--device-approve-after", "1")
    home = Home(workdir, emu, PROFILE)
    proc = home.upfsctl("login", PROFILE)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upfsctl: " + words), \
        proc.stderr
    assert "upfsctl login %s" % PROFILE in lines[0]
    assert not os.path.exists(home.session_path)
    assert device(emu)["polls"] == 2


def test_login_stops_when_the_code_runs_out(start_emulator, workdir):
    emu = start(start_emulator, "--device-code-seconds", "2",
                "--device-approve-after", "100")
    home = Home(workdir, emu, PROFILE)
    began = time.monotonic()
    proc = home.upfsctl("login", PROFILE)
    assert proc.returncode == 1
    assert "the code expired" in proc.stderr
    assert time.monotonic() - began < 10
    assert not os.path.exists(home.session_path)


def test_login_unreachable_authority_fails_in_one_line(workdir):
    home = Home(workdir, None, PROFILE)
    home.write_config("[work]\nauthority = http://127.0.0.1:1/organizations\n")
    proc = home.upfsctl("login", PROFILE)
    assert proc.returncode == 1
    assert proc.stderr.startswith("upfsctl: cannot start the sign-in at "
                                  "'http://127.0.0.1:1/organizations'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_login_at_a_plain_http_authority_elsewhere_is_refused(workdir):
    """Refresh tokens over plain http to another machine would cross the
    network readable: refused before anything is sent."""
    home = Home(workdir, None, PROFILE)
    home.write_config("[work]\nauthority = http://192.0.2.1/organizations\n")
    proc = home.upfsctl("login", PROFILE)
    assert proc.returncode == 1, proc.stderr
    assert "plain http to another machine" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_logout_removes_the_session(start_emulator, workdir):
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    proc = home.upfsctl("logout", PROFILE, check=True)
    assert "signed out of 'work'" in proc.stdout
    assert not os.path.exists(home.session_path)
    proc = home.upfsctl("logout", PROFILE, check=True)
    assert "not signed in to 'work'" in proc.stdout


def test_upfsctl_usage_errors(workdir):
    home = Home(workdir, None, PROFILE)
    for args in (["frobnicate"], ["login", "a", "b"], ["status"],
                 ["login", "../evil"], ["mount", PROFILE, "-f"]):
        proc = home.upfsctl(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("upfsctl: ") or "usage" in proc.stderr
    assert home.upfsctl("--help").returncode == 0
    # A typo in -o is not passed over (it signed in with the default).
    proc = home.upfsctl("login", PROFILE, "-o", "clientid=0000")
    assert proc.returncode == 2, proc.stderr
    assert "unknown option 'clientid'" in proc.stderr


# --- a mount on the session -----------------------------------------------------

def test_mount_renews_the_token_before_it_expires(start_emulator, workdir,
                                                  session_mounts):
    emu = start(start_emulator, "--device-approve-after", "0",
                "--access-token-seconds", "3")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home, options=FRESH, debug=True)
    assert "Floor3 LaserJet" in os.listdir(m.p("printers"))
    first = emulator_auth(emu)["counts"]["refreshGrants"]
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        os.listdir(m.p("printers"))
        time.sleep(0.3)
    counts = emulator_auth(emu)["counts"]
    assert counts["refreshGrants"] >= first + 2, counts
    assert counts["refusedBearer"] == 0, "a token was used after expiry"
    status = m.status()
    assert status["token_source"] == "session"
    assert status["user"] == "admin@contoso.com"
    assert status["session"] == "ok"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                    status["token_expires"])
    assert_no_token_text(m.log(), home)


def test_the_default_sign_in_asks_for_every_scope_upfs_uses(
        start_emulator, workdir, session_mounts):
    """The emulator grants what a sign-in asks for, and refuses a call
    whose scopes the token lacks as the service does (reference §3.0).
    Signed in with upfsctl's default scope, an administrator reads every
    part of the tree and makes the changes that take the most: a
    printer's unregistration (Printer.FullControl.All), a connector's
    rename (PrintConnector.ReadWrite.All), the settings, a share's
    access list and a print."""
    emu = start(start_emulator, "--device-approve-after", "0")
    emu.add_printer(displayName="Spare Printer")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    granted = device(emu)["scope"].split()
    assert "https://graph.microsoft.com/Printer.FullControl.All" in granted
    m = session_mounts(home, options=FRESH)
    for top in ("printers", "shares", "connectors", "settings.json"):
        assert os.path.exists(m.p(top)), top
    assert "Floor3 LaserJet" in os.listdir(m.p("printers"))
    os.rmdir(m.p("printers", "Spare Printer"))
    assert "Spare Printer" not in [
        p["displayName"] for p in emu.state(only=["printers"])["printers"]]
    os.rename(m.p("connectors", "CONN-BERLIN"), m.p("connectors", "CONN-B"))
    assert "CONN-B" in [c["displayName"] for c in emu.state()["connectors"]]
    with open(m.p("settings.json"), "w") as fh:
        fh.write('{"documentConversionEnabled": false}\n')
    with open(m.p("shares", "Reception", "allowed_users"), "a") as fh:
        fh.write("carol@contoso.com\n")
    data = b"%PDF-1.4\n" + os.urandom(4096) + b"\n%%EOF\n"
    with open(m.p("shares", "Floor3", "queue", "scoped.pdf"), "wb") as fh:
        fh.write(data)
    assert "scoped.pdf" in [j.get("documentName") for j in emu.jobs()]
    assert m.status()["last_error"] in ("", "none"), m.status()


def test_a_token_without_the_scope_is_refused_as_the_service_does(
        start_emulator, workdir, upfs_mount):
    """A token that lacks a call's scope gets the service's missing-scope
    403 (UnknownError), and upfs says EACCES with the reason: here a
    printer's unregistration without Printer.FullControl.All."""
    emu = start_emulator()
    emu.add_printer(displayName="Spare Printer")
    scp = ("Printer.ReadWrite.All PrinterShare.ReadWrite.All "
           "PrintJob.ReadWrite.All PrintConnector.Read.All "
           "User.ReadBasic.All Group.Read.All")
    token = emu.call("POST", "/_emulator/token",
                     {"upn": "admin@contoso.com", "scp": scp})[1]
    m = upfs_mount(emu, token=token["access_token"])
    m.expect_warning(r"required security scopes")
    util.expect_errno(lambda: os.rmdir(m.p("printers", "Spare Printer")),
                      errno.EACCES)
    assert "Spare Printer" in [
        p["displayName"] for p in emu.state(only=["printers"])["printers"]]
    last = m.status()["last_error"]
    assert "required security scopes" in last and \
        "see scope in upfsctl(1)" in last, last
    util.expect_errno(lambda: os.rename(m.p("connectors", "CONN-BERLIN"),
                                        m.p("connectors", "CONN-B")),
                      errno.EACCES)


def test_a_session_is_refreshed_where_it_signed_in(start_emulator, workdir,
                                                  session_mounts):
    """A sign-in at a tenant's own authority (a guest's) is refreshed
    there, not at the profile's /organizations, which would give a token
    of the user's home tenant."""
    emu = start(start_emulator, "--device-approve-after", "0",
                "--access-token-seconds", "2")
    home = Home(workdir, emu, PROFILE)
    assert emu.authority.endswith("/organizations")
    guest = emu.base + "/contoso-guest"
    proc = home.upfsctl("login", PROFILE, "-o", "authority=" + guest)
    assert proc.returncode == 0, proc.stderr
    assert home.session()["authority"] == guest
    m = session_mounts(home, options=FRESH)
    assert "Floor3 LaserJet" in os.listdir(m.p("printers"))
    assert set(emulator_auth(emu)["refreshAt"]) == {"contoso-guest"}
    # And again once the first access token has expired.
    first = emulator_auth(emu)["refreshAt"]["contoso-guest"]
    util.wait_until(lambda: (os.listdir(m.p("printers")) and
                             emulator_auth(emu)["refreshAt"].get(
                                 "contoso-guest", 0) > first),
                    timeout=10, what="a second refresh")
    assert set(emulator_auth(emu)["refreshAt"]) == {"contoso-guest"}
    assert m.status()["session"] == "ok"


def test_mount_refreshes_after_a_401(start_emulator, workdir,
                                     session_mounts):
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home, options=FRESH)
    os.listdir(m.p("printers"))
    assert emulator_auth(emu)["counts"]["refreshGrants"] == 1
    revoke(emu, access=True, refresh=False)     # the access token dies
    emu.add_printer(displayName="After Revoke")

    util.wait_until(lambda: "After Revoke" in os.listdir(m.p("printers")),
                    timeout=10, what="the new printer, with a new token")
    counts = emulator_auth(emu)["counts"]
    assert counts["refusedBearer"] >= 1 and counts["refreshGrants"] == 2, \
        counts
    assert m.status()["session"] == "ok"


def test_rotated_refresh_token_is_saved(start_emulator, workdir,
                                        session_mounts):
    emu = start(start_emulator, "--device-approve-after", "0",
                "--access-token-seconds", "2", "--refresh-single-use")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    first = home.session()["refresh_token"]
    m = session_mounts(home, options=FRESH)
    os.listdir(m.p("printers"))
    util.wait_until(lambda: home.session()["refresh_token"] != first,
                    timeout=5, what="the rotated refresh token in the file")
    assert mode_of(home.session_path) == 0o600
    # Each refresh rotates again; the file keeps up.
    second = home.session()["refresh_token"]
    time.sleep(2.5)
    os.listdir(m.p("printers"))
    util.wait_until(lambda: home.session()["refresh_token"] != second,
                    timeout=5, what="the second rotation in the file")
    m.unmount()
    assert emulator_auth(emu)["counts"]["refusedRefresh"] == 0
    # A new mount starts from the file: its token must still be good.
    m2 = session_mounts(home, options=FRESH)
    assert "Floor3 LaserJet" in os.listdir(m2.p("printers"))
    assert emulator_auth(emu)["counts"]["refusedRefresh"] == 0
    assert mode_of(home.session_path) == 0o600
    assert set(os.listdir(home.config_dir)) == {"config",
                                                 PROFILE + ".token"}


def test_expired_session_says_so_and_serves_the_cache(start_emulator,
                                                      workdir,
                                                      session_mounts):
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home, options=FRESH, debug=True)
    m.expect_error(re.escape(EXPIRED_LINE))
    printer = os.path.join(m.p("printers"), "Floor3 LaserJet")
    before = util.read_text(os.path.join(printer, "status"))
    listing = sorted(os.listdir(m.p("printers")))

    revoke(emu)                                  # access and refresh tokens
    emu.add_printer(displayName="Unseen")

    def expired():
        os.listdir(m.p("printers"))       # a refresh of the listing
        return m.status()["session"].startswith("expired")

    util.wait_until(expired, timeout=10,
                    what="the expired session in .upfs/status")
    status = m.status()
    assert status["session"] == "expired: run 'upfsctl login work'"
    assert status["last_error"] == EXPIRED_LINE
    # The cache is still served, read-only as it was.
    assert sorted(os.listdir(m.p("printers"))) == listing
    assert util.read_text(os.path.join(printer, "status")) == before
    # One line says it, not one per request; no token endpoint storm.
    grants = emulator_auth(emu)["counts"]["refreshGrants"]
    for _ in range(5):
        os.listdir(m.p("printers"))
    assert emulator_auth(emu)["counts"]["refreshGrants"] == grants
    lines = [line for line in m.log().splitlines() if EXPIRED_LINE in line]
    assert lines == ["upfs: error: " + EXPIRED_LINE], lines

    # Signing in again is picked up without a remount.
    signed_in(home, emu)
    util.wait_until(lambda: "Unseen" in os.listdir(m.p("printers")),
                    timeout=10, what="fresh data after a new sign-in")
    assert m.status()["session"] == "ok"
    assert_no_token_text(m.log(), home)


def test_expired_session_with_no_cache_refuses_to_mount(start_emulator,
                                                        workdir):
    emu = start(start_emulator)
    home = Home(workdir, emu, PROFILE)
    home.write_session(signin.mint_refresh(emu))
    revoke(emu)
    mnt = os.path.join(workdir, "mnt")
    os.mkdir(mnt)
    proc = util.run([util.upfs_binary(), PROFILE, mnt, "-f"], check=False,
                    env=home.env)
    assert not util.in_mount_table(mnt)
    assert proc.returncode == 1
    assert proc.stderr == "upfs: " + EXPIRED_LINE + "\n"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_session_readable_by_others_is_refused(start_emulator, workdir,
                                               mode):
    emu = start(start_emulator)
    home = Home(workdir, emu, PROFILE)
    home.write_session(signin.mint_refresh(emu), mode=mode)
    mnt = os.path.join(workdir, "mnt")
    os.mkdir(mnt)
    proc = util.run([util.upfs_binary(), PROFILE, mnt, "-f"], check=False,
                    env=home.env)
    assert not util.in_mount_table(mnt)
    assert proc.returncode == 1
    assert proc.stderr.startswith("upfs: session file '%s' is accessible "
                                  "by others (mode %04o)"
                                  % (home.session_path, mode)), proc.stderr
    assert emulator_auth(emu)["counts"]["refreshGrants"] == 0


def test_not_signed_in(workdir):
    home = Home(workdir, None, PROFILE)
    mnt = os.path.join(workdir, "mnt")
    os.mkdir(mnt)
    proc = util.run([util.upfs_binary(), PROFILE, mnt, "-f"], check=False,
                    env=home.env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("upfs: not signed in: run 'upfsctl login "
                                  "work'")


def test_sighup_drops_caches_and_rereads_the_session(start_emulator,
                                                     workdir,
                                                     session_mounts):
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home, options=FRESH)
    os.listdir(m.p("printers"))
    fetches = int(m.status()["token_fetches"])
    m.proc.send_signal(signal.SIGHUP)
    util.wait_until(lambda: "SIGHUP: in-memory caches dropped, session "
                    "re-read" in m.log(), timeout=5)
    assert m.proc.poll() is None, "SIGHUP ended upfs"
    os.listdir(m.p("printers"))
    util.wait_until(lambda: int(m.status()["token_fetches"]) > fetches,
                    timeout=5, what="a token fetched again after SIGHUP")
    assert "Floor3 LaserJet" in os.listdir(m.p("printers"))


def test_upfsctl_status(start_emulator, workdir, session_mounts):
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home)
    os.listdir(m.p("printers"))
    proc = home.upfsctl("status", m.path, check=True)
    out = proc.stdout
    assert out.startswith("upfs on %s: online\n" % m.path), out
    assert "  signed in:     admin@contoso.com (session " \
        "~/.config/upfs/work.token)\n" in out
    assert re.search(r"  access token:  \d{4}-\S+Z \(in \d+ min\)\n", out)
    assert "  session:       ok\n" in out
    assert re.search(r"  requests:      \d+ to Graph, 0 retried, 0 failed; "
                     r"1 token fetches\n", out), out
    assert "  spooled jobs:  0 waiting to be sent\n" in out
    assert "  last error:    none\n" in out
    assert_no_token_text(out, home)

    proc = home.upfsctl("status", workdir)
    assert proc.returncode == 1
    assert proc.stderr.startswith("upfsctl: '%s' is not a upfs mount"
                                  % workdir)


def test_a_waiting_document_outlives_an_expired_session(start_emulator,
                                                        workdir,
                                                        session_mounts):
    """A document waiting in the spool (the service was down when it was
    written) meets an expired session at its next try: the refresh is
    refused (invalid_grant), which is no refusal of the document, as the
    service was never asked. It waits until the user signs in again, then
    prints once."""
    emu = start(start_emulator, "--device-approve-after", "0")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home)
    m.expect_error(re.escape(EXPIRED_LINE))
    m.expect_warning(r".")
    share = emu.share_by_name("Floor3")
    queue = m.p("shares", "Floor3", "queue")
    before = job_ids(emu, share["id"])
    assert "waits.pdf" not in os.listdir(queue)          # the share is known
    emu.set_faults("503:1,method=POST,route=/jobs$")
    data = make_pdf("waits.pdf", 40000)
    assert write_and_close(os.path.join(queue, "waits.pdf"), data) == \
        ("ok", 0)
    assert local_attrs(os.path.join(queue, "waits.pdf"))["state"] == \
        "waiting"
    revoke(emu)                                  # access and refresh tokens
    emu.set_faults("")
    util.wait_until(lambda: m.status()["session"].startswith("expired"),
                    timeout=60, what="the next try to meet the expired "
                    "session")
    assert local_attrs(os.path.join(queue, "waits.pdf"))["state"] == \
        "waiting"
    assert "refused" not in m.log()
    assert new_jobs(emu, share["id"], before) == []

    signed_in(home, emu)
    util.wait_until(lambda: pending_entries(queue) == [], timeout=60,
                    what="the document to print after the new sign-in")
    [job] = new_jobs(emu, share["id"], before)
    assert job["documentName"] == "waits.pdf"
    assert emu.job_document(job["id"])["sha256"] == \
        hashlib.sha256(data).hexdigest()


def test_a_token_still_good_serves_while_its_renewal_fails(start_emulator,
                                                           workdir,
                                                           session_mounts):
    """A token is renewed before it expires (a tenth of its life early,
    at most 5 minutes); when that renewal fails for a reason that may
    pass (the token endpoint answers 503), the token in hand still serves
    until it expires instead of failing every request meanwhile."""
    emu = start(start_emulator, "--device-approve-after", "0",
                "--access-token-seconds", "30")
    home = Home(workdir, emu, PROFILE)
    signed_in(home, emu)
    m = session_mounts(home, options=FRESH)
    os.listdir(m.p("printers"))
    emu.set_faults("503:1,route=/oauth2/v2.0/token")

    def renewals():
        return sum(n for route, n in emu.requests()["routes"].items()
                   if "token" in route)

    before = renewals()
    deadline = time.monotonic() + util.scaled(60)
    while renewals() == before:
        assert time.monotonic() < deadline, "no renewal was tried"
        os.listdir(m.p("printers"))
        time.sleep(0.5)
    # Its renewal failed two seconds or so before the token expires:
    # listings still come fresh from the service meanwhile.
    emu.add_printer(displayName="After")
    util.wait_until(lambda: "After" in os.listdir(m.p("printers")),
                    timeout=1.5, what="a fresh listing with the token in "
                    "hand")
    assert renewals() == before + 1, "asked at every request"
    emu.set_faults("")
    assert m.status()["session"] == "ok"
