"""The syntax of each value that the agent puts into an IOS command line, as IOS reads the token.

One module, used twice: by the config schema at load (a bad value is a config error) and by the
builders of IOS commands right before a command is built (a value that reached them unchecked is a
measurement error; the command is not sent). `cli.execute()` takes one whole line, so a space, `|`
or a leading `-` in a value would change the command itself (`ping vrf X | redirect ...`).

Hosts are parsed here the same way on every Python: `ipaddress` accepts IPv4 octets with leading
zeros before 3.9.5 and refuses them after, and accepts any text after `%` as an IPv6 scope id from
3.9 on, so those two cases are decided before `ipaddress` sees the text.
"""

import re

# `vrf definition NAME`: one word; IOS takes letters, digits and `_.:-`, up to 32 characters. A
# leading `-` would read as an option.
VRF = re.compile(r"[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,31}\Z")
# An interface as IOS names it: a type word, then unit numbers (GigabitEthernet0/0/0,
# Cellular0/1/0, Vlan1, Tunnel10, Virtual-Template1, GigabitEthernet0/0/0.100, Serial0/1/0:0).
INTERFACE = re.compile(r"[A-Za-z][A-Za-z-]{0,39}[0-9]{1,5}(/[0-9]{1,5}){0,3}(\.[0-9]{1,10})?"
                       r"(:[0-9]{1,5})?\Z")
# A cellular slot as `show cellular <slot>` takes it.
SLOT = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{1,2}\Z")
# An IPv6 scope id that Guest Shell's ping takes (`fe80::1%eth0`): a Linux interface name (at most
# 15 characters) or a number. IOS takes no scope id in its commands.
SCOPE_ID = re.compile(r"[A-Za-z0-9_.-]{1,15}\Z")

_IPV4 = re.compile(r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                   r"(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}\Z")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}\Z")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")


class TokenError(ValueError):
    """A value that must not be put into an IOS command."""


def ip_version(text, scope_ok=False):
    """4 or 6 when text is an IP address (identically on every Python), else None."""
    import ipaddress
    if not isinstance(text, str):
        return None
    if _IPV4.match(text):
        return 4
    address, sep, scope = text.partition("%")
    if sep and (not scope_ok or not SCOPE_ID.match(scope)):
        return None
    if ":" not in address or not _IPV6_CHARS.match(address):
        return None
    if "." in address and not _IPV4.match(address.rsplit(":", 1)[-1]):
        return None  # an embedded IPv4 part follows the IPv4 rule above
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return None
    return 6


def is_dns_name(text):
    """A DNS host name of RFC 1123 labels (`_` allowed), ASCII, not all digits and dots."""
    if not isinstance(text, str) or not text or len(text) > 253:
        return False
    if text.replace(".", "").isdigit() or not all(ord(c) < 128 for c in text):
        return False
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    return all(_LABEL.match(label) for label in labels)


def is_host(text, scope_ok=True):
    """An IPv4/IPv6 address (a scope id only when scope_ok) or a DNS host name."""
    return ip_version(text, scope_ok=scope_ok) is not None or is_dns_name(text)


def is_vrf(text):
    return isinstance(text, str) and bool(VRF.match(text))


def is_interface(text):
    return isinstance(text, str) and bool(INTERFACE.match(text))


def is_slot(text):
    return isinstance(text, str) and bool(SLOT.match(text))


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def ios_host(value):
    """The host of an IOS command (no scope id), or TokenError."""
    if not is_host(value, scope_ok=False):
        raise TokenError("not an IP address or host name IOS takes: {}".format(_shown(value)))
    return value


def ios_vrf(value):
    """A VRF name for `ping vrf NAME` / `traceroute vrf NAME`, or TokenError."""
    if not is_vrf(value):
        raise TokenError("not a VRF name (one word of A-Z a-z 0-9 _ . : -, not starting with "
                         "-, at most 32): {}".format(_shown(value)))
    return value


def ios_count(value, minimum=0, maximum=2 ** 31 - 1):
    """A whole number for a command, or TokenError (bool and text refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise TokenError("not a whole number in {}..{}: {}".format(minimum, maximum,
                                                                  _shown(value)))
    return str(value)
