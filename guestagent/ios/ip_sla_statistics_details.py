"""`show ip sla statistics details`: the same blocks as `show ip sla statistics` plus, on IOS XE,
positive/negative jitter, the entry's state and its last reset; one parser reads both."""

from guestagent.ios.ip_sla_statistics import SCHEMA, parse  # noqa: F401

COMMAND = "show ip sla statistics details"
