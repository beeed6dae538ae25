"""`show version`: who the router is.

Keys: `hostname` (from `<name> uptime is ...`), `uptime` (text), `uptime_s`, `version` (IOS XE
release, e.g. `17.9.4a`, from `Cisco IOS XE Software, Version ...` or else the IOS line),
`ios_version` (the IOS line's version), `image` (`System image file is "..."`), `platform`
(`cisco IR1101-K9 (ARM64) processor` -> `IR1101-K9`), `serial` (`Processor board ID`),
`last_reload_reason`, `config_register`, `memory_kb`, `rommon`.
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "show version"

SCHEMA = {
    "recognized": bool, "hostname": str, "uptime": str, "uptime_s": int, "version": str,
    "ios_version": str, "image": str, "platform": str, "serial": str,
    "last_reload_reason": str, "config_register": str, "memory_kb": int, "rommon": str,
}

_XE = rx.compile(r"Cisco IOS XE Software,\s*Version\s+(\S+)", common.IGNORECASE)
# Searched from `Cisco IOS Software` on: `.*?` after it would rescan the rest of the line for
# every repeat of the phrase.
_IOS_START = "cisco ios software"
_IOS_VERSION = rx.compile(r",\s*Version\s+([^,\s]+)", common.IGNORECASE)
_UPTIME = rx.compile(r"^(\S+)\s+uptime is\s+(.+)$")
_PLATFORM = rx.compile(r"^cisco\s+(\S+)\s+\(([^)]*)\)\s+processor.*?with\s+(\d+)K",
                       common.IGNORECASE)
_PLATFORM_SHORT = rx.compile(r"^cisco\s+(\S+)\s+\([^)]*\)\s+processor", common.IGNORECASE)


def parse(text):
    result = {"recognized": False}
    for raw in common.lines(text):
        line = common.squash(raw)
        if not line:
            continue
        match = _XE.search(line)
        if match:
            result["version"] = match.group(1).rstrip(",")
            result["recognized"] = True
            continue
        start = line.lower().find(_IOS_START)
        match = _IOS_VERSION.search(line, start) if start >= 0 else None
        if match:
            result["ios_version"] = match.group(1)
            result["recognized"] = True
            continue
        match = _UPTIME.match(line)
        if match and "uptime" not in result:
            result["hostname"] = match.group(1)
            result["uptime"] = match.group(2)
            seconds = common.duration_s(match.group(2))
            if seconds is not None:
                result["uptime_s"] = seconds
            result["recognized"] = True
            continue
        match = _PLATFORM.match(line)
        if match:
            result["platform"] = match.group(1)
            if common.integer(match.group(3)) is not None:
                result["memory_kb"] = common.integer(match.group(3))
            continue
        match = _PLATFORM_SHORT.match(line)
        if match:
            result["platform"] = match.group(1)
            continue
        if line.startswith("Processor board ID"):
            serial = line[len("Processor board ID"):].strip()
            if serial:
                result["serial"] = serial.split()[0]
            continue
        if line.startswith("System image file is"):
            result["image"] = line.partition(" is ")[2].strip().strip('"')
            continue
        if line.lower().startswith("last reload reason:"):
            result["last_reload_reason"] = line.split(":", 1)[1].strip()
            continue
        if line.startswith("Configuration register is"):
            value = line.partition(" is ")[2].split()
            if value:
                result["config_register"] = value[0]
            continue
        if line.startswith("ROM:"):
            result["rommon"] = line[4:].strip()
    if "version" not in result and "ios_version" in result:
        result["version"] = result["ios_version"]
    return result
