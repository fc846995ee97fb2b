"""Small shared helpers: deterministic ids, Graph timestamps, base64url."""

import base64
import datetime
import uuid

# Every id the emulator seeds is uuid5(NAMESPACE, seed name), so each run of
# a tenant has the same ids.
NAMESPACE = uuid.UUID("5f0c2d6e-9a51-4c8e-8a52-7570667365ed")


def seed_id(name):
    """The deterministic GUID string for a seed name like 'demo/printer/x'."""
    return str(uuid.uuid5(NAMESPACE, name))


def new_id():
    """A fresh random GUID string (for objects made at run time)."""
    return str(uuid.uuid4())


def format_time(dt):
    """ISO-8601 UTC with 7 fractional digits, as Graph writes them."""
    dt = dt.astimezone(datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d0Z" % dt.microsecond


# Seconds the service's clock is ahead of this machine's: one service
# per process (App.clock_skew sets it).
_SKEW = {"seconds": 0}


def clock_skew():
    return _SKEW["seconds"]


def set_clock_skew(seconds):
    _SKEW["seconds"] = seconds


def now():
    """The service's clock."""
    return datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=_SKEW["seconds"])


def from_epoch(seconds):
    """A time of this machine's clock (time.time()) as the service's
    clock shows it."""
    return datetime.datetime.fromtimestamp(seconds + _SKEW["seconds"],
                                           datetime.timezone.utc)


def now_str():
    return format_time(now())


def error_date():
    """The innerError.date format: seconds, no zone suffix."""
    return now().strftime("%Y-%m-%dT%H:%M:%S")


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Decodes unpadded base64url; raises ValueError on bad input."""
    if not isinstance(text, str) or not text:
        raise ValueError("empty")
    pad = "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(text + pad)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def deep_merge(base, patch):
    """A new dict: patch merged into base. Dicts merge recursively; lists,
    scalars and null replace. Neither argument is modified."""
    out = dict(base)
    for key, value in patch.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out
