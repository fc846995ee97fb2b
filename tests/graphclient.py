"""A plain HTTP client of the emulator's Graph surface for the tests that
drive it directly (test_emulator_*.py): no redirects followed, every
status and header kept."""

import http.client
import json
import urllib.parse

import util


class Reply:
    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers          # lower-case name -> value
        self.data = data

    def json(self):
        return json.loads(self.data) if self.data.strip() else None

    def error(self):
        return self.json()["error"]


def request(emu, method, url, body=None, token=None, headers=None):
    """One request, redirects not followed; url is a path or absolute."""
    parts = urllib.parse.urlsplit(url if "://" in url else emu.base + url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                      timeout=util.scaled(30))
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if token:
        hdrs["Authorization"] = "Bearer " + token
    target = parts.path + ("?" + parts.query if parts.query else "")
    try:
        conn.request(method, target, body=data, headers=hdrs)
        resp = conn.getresponse()
        out = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                    resp.read())
    finally:
        conn.close()
    return out


class Client:
    """Graph calls with one token (version "v1.0" unless given)."""

    def __init__(self, emu, token):
        self.emu, self.token = emu, token

    def __call__(self, method, path, body=None, version="v1.0", **kw):
        return request(self.emu, method, "/%s%s" % (version, path), body,
                       self.token, **kw)

    def ok(self, method, path, body=None, status=200):
        r = self(method, path, body)
        assert r.status == status, (method, path, r.status, r.data)
        return r.json()


def assert_refused(reply, status, *words, codes=None):
    """A Graph error reply: status, one of codes, a message naming every
    word, and the request-id Graph puts in innerError."""
    assert reply.status == status, (reply.status, reply.data)
    err = reply.error()
    if codes:
        assert err["code"] in codes, err
    assert err["message"]
    assert "request-id" in err["innerError"]
    for word in words:
        assert word in err["message"], (word, err["message"])
