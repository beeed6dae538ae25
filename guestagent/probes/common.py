"""What every prober shares: the sample's identity fields and timed name resolution."""

import threading
import time


def new_sample(target, kind):
    return {
        "kind": kind,
        "target": target.name,
        "host": target.host,
        "role": target.role,
        "group": list(target.group or []),
        "via": target.get("via") or "guestshell",
        "address": None,
        "started": time.time(),
        "duration_s": None,
        "resolve_s": None,
        "error": None,
    }


def finish(sample, started_monotonic):
    sample["duration_s"] = round(time.monotonic() - started_monotonic, 6)
    return sample


def resolve_into(sample, host, deadline):
    """Resolve (at most 5 s) and record address and time in the sample; (address, version) or
    (None, None) with the sample's measurement error set."""
    address, version, resolve_s, error = resolve(host, min(5.0, deadline.remaining()))
    sample["resolve_s"] = round(resolve_s, 6)
    sample["address"] = address
    if error:
        sample["error"] = error
        return None, None
    return address, version


def run_on_router(sample, context, command, timeout_s, what):
    """For `via: ios` probes: the command's output from the router, or None with the sample's
    measurement error set (no router, or the router refused or failed the command)."""
    from guestagent.device import DeviceError
    device = getattr(context, "device", None) if context is not None else None
    sample["command"] = command
    if device is None:
        sample["error"] = "via ios: no router device"
        return None
    if timeout_s < 1.0:
        sample["error"] = "deadline: {:.1f} s left, not enough to send".format(timeout_s)
        return None
    try:
        return device.execute(command, timeout_s=timeout_s)
    except DeviceError as exc:
        sample["error"] = "{} failed: {}".format(what, exc)
        return None


def literal_family(host):
    """4 or 6 when `host` is an address as ipaddress.ip_address reads it here, else None.

    A dotted quad or a name with letters and no `:` is decided without importing ipaddress
    (with socket, a tenth of a cycle's start-up on Python 3.6): only a text with `:` or of
    digits and dots alone (`010.0.0.1`, which ipaddress takes before 3.9.5) is given to it."""
    if not isinstance(host, str):
        return None
    if _dotted_quad(host):
        return 4
    if ":" not in host and not host.replace(".", "").isdigit():
        return None
    import ipaddress
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def _dotted_quad(text):
    """Four ASCII decimal octets 0-255 without leading zeros (`10.0.0.1`), which every Python's
    ipaddress takes; no regular expression (none compiled at start-up for it)."""
    octets = text.split(".")
    return len(octets) == 4 and all(
        0 < len(octet) <= 3 and all("0" <= c <= "9" for c in octet) and
        (octet == "0" or octet[0] != "0") and int(octet) <= 255 for octet in octets)


def resolve(host, timeout_s):
    """Resolve a host name within timeout_s.

    Returns (address, ip_version, seconds, error). A literal address is returned as it is, with
    seconds = 0. getaddrinfo cannot be interrupted, so it runs in a daemon thread we stop waiting for.
    """
    version = literal_family(host)
    if version:
        return host, version, 0.0, None
    import socket  # here: literal addresses, the usual test points, never need it
    box = {}

    def work():
        try:
            box["infos"] = socket.getaddrinfo(host, None, 0, socket.SOCK_RAW)
        except (socket.gaierror, socket.herror, UnicodeError) as exc:
            box["error"] = "name resolution failed: {}".format(exc)

    started = time.monotonic()
    worker = threading.Thread(target=work, name="resolve-" + host)
    worker.daemon = True
    worker.start()
    worker.join(max(0.0, timeout_s))
    seconds = time.monotonic() - started
    if worker.is_alive():
        return None, None, seconds, "name resolution timed out after {:.1f} s".format(seconds)
    if "error" in box:
        return None, None, seconds, box["error"]
    for family in (socket.AF_INET, socket.AF_INET6):
        for info in box.get("infos", []):
            if info[0] == family:
                return info[4][0], 4 if family == socket.AF_INET else 6, seconds, None
    return None, None, seconds, "name resolution returned no address"
