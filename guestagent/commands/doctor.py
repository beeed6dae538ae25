"""`guestagent doctor`: is this Guest Shell ready to run the agent? One line per check.

Each line is PASS, WARN, FAIL or SKIP (not checkable, e.g. no cli module) with what was found and,
when not PASS, the fix. Exit 1 when any check FAILs. Nothing secret is printed: passwords, tokens,
the contents of *_file secrets and URL credentials are masked in every line. Probes go only to the
loopback address (ping/traceroute permission) and to the configured Pushgateway (its health
endpoint); show commands go through the same device layer as a cycle.
"""

import os
import re
import sys

HELP = "check Python, the cli module, ping/traceroute, locale, secret files, state directory, " \
       "history, flash, config, Pushgateway, GPS, IP SLA, tracks and the EEM applets; one line " \
       "each"

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
# Below this free space on the state directory's file system the journal cannot rotate safely.
MIN_FREE_BYTES = 5 * 1024 * 1024
LOW_FREE_BYTES = 50 * 1024 * 1024


def add_arguments(parser):
    from guestagent.cli import add_config_argument
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


class Check(object):
    def __init__(self, name, status, message, fix=None):
        self.name, self.status, self.message, self.fix = name, status, message, fix

    def line(self):
        text = "{:<4}  {:<11} {}".format(self.status, self.name, self.message)
        if self.fix and self.status != PASS:
            text += " -- fix: " + self.fix
        return text

    def as_dict(self):
        return {"name": self.name, "status": self.status, "message": self.message,
                "fix": self.fix}


def check_python():
    import platform
    version = "%d.%d.%d" % sys.version_info[:3]
    machine = platform.machine()
    if sys.version_info < (3, 6):
        return Check("python", FAIL, "Python {} is too old".format(version),
                     "run Guest Shell of IOS XE 17.x (CentOS 8, Python 3.6.8)")
    if machine != "aarch64":
        return Check("python", WARN, "Python {} on {} (not the IR1101's aarch64)".format(
            version, machine), "fine for a lab; the router bundle carries aarch64 wheels")
    return Check("python", PASS, "Python {} on {}".format(version, machine))


def check_config(path):
    from guestagent import config as configs
    try:
        config = configs.load(path)
    except configs.ConfigError as exc:
        first = exc.problems[0] if exc.problems else str(exc)
        more = " (+{} more)".format(len(exc.problems) - 1) if len(exc.problems) > 1 else ""
        return None, Check("config", FAIL, first + more,
                           "edit {} (`guestagent check-config` lists every problem)".format(
                               exc.source))
    return config, Check("config", PASS, "{}: {} test point(s)".format(
        config.source, len(config.targets)))


def check_eem_timing(config):
    from guestagent import eem
    problems = eem.check(config)
    maxrun = eem.maxrun_s(config)
    if problems:
        text = problems[0]
        message, _, fix = text.partition("; ")
        return Check("eem maxrun", FAIL, message, fix or None)
    return Check("eem maxrun", PASS, "applets' maxrun {} s, cycle deadline {:g} s ({:.0%})".format(
        maxrun, config.agent.deadline_s, config.agent.deadline_s / float(maxrun)))


def open_device(config):
    """(device or None, Check)."""
    from guestagent.device import DeviceError
    from guestagent.device import guestshell
    from guestagent.device.onbox import OnBoxDevice
    kind = config.device.kind
    if kind == "simulated":
        from guestagent.device import open_device as _open
        try:
            device = _open(config.device)
        except DeviceError as exc:
            return None, Check("cli", FAIL, str(exc), "fix device.fixtures")
        return device, Check("cli", WARN, "device.kind is simulated: the router is not read "
                             "(outputs from {})".format(device.fixture_dir),
                             "set device.kind: auto on the router")
    cli, problem = guestshell.load_cli()
    if cli is None:
        signs = guestshell.signs()
        if signs:  # in Guest Shell: name the failure (missing, no IOS session, broken)
            return None, Check("cli", FAIL, "{} ({}): {}".format(
                problem.kind, "; ".join(signs), problem.message), problem.fix)
        return None, Check("cli", FAIL, problem.message,
                           "run inside Guest Shell started by IOS: `guestshell run "
                           "<python> -m guestagent doctor` (a shell reached by SSH or cron "
                           "has no IOS session)")
    device = OnBoxDevice(cli, config.device.command_timeout_s)
    try:
        clock = device.execute("show clock").strip().splitlines()
    except DeviceError as exc:
        return None, Check("cli", FAIL, "`show clock` through the cli module failed: {}".format(
            exc), "check `iox` and `app-hosting` state; restart Guest Shell "
                  "(`guestshell disable` / `guestshell enable`)")
    return device, Check("cli", PASS, "show clock: {}".format(clock[-1] if clock else "(empty)"))


def _needs(config, kind):
    """Whether some test point (or path discovery) runs `kind` from Guest Shell."""
    discovery = config.path_discovery
    from_guestshell = discovery.enabled and discovery.via == "guestshell"
    if kind == "traceroute" and from_guestshell:
        return True
    if kind == "icmp" and from_guestshell and discovery.first_hop:
        return True  # the first hop is pinged as a test point
    return any(t.kind == kind and t.via == "guestshell" for t in config.targets)


PING_ARGV = ["ping", "-c", "1", "-W", "1", "127.0.0.1"]
TRACEROUTE_ARGV = ["traceroute", "-n", "-m", "1", "-q", "1", "-w", "1", "127.0.0.1"]
# ping's words for "this user may not open an ICMP socket" (iputils, old and new).
_REFUSED = ("operation not permitted", "permission denied", "cap_net_raw")
ALLOW_ICMP = ("allow unprivileged ICMP: `sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'` "
              "or `sudo setcap cap_net_raw+ep $(command -v ping)`")


def _user():
    import pwd
    uid = os.getuid()
    try:
        return "{} (uid {})".format(pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid {}".format(uid)


def _reason(result):
    text = [line.strip() for line in (result.stderr or result.stdout or "").strip().splitlines()]
    if result.timed_out:
        return "no answer within 5 s"
    for line in text:  # newer iputils add a hint line after the error itself
        if any(word in line.lower() for word in _REFUSED[:2]):
            return line
    return text[-1] if text else "exit {}".format(result.returncode)


def _worked(result):
    return not result.missing and not result.timed_out and result.returncode == 0


def _refused(result):
    text = "{} {}".format(result.stderr or "", result.stdout or "").lower()
    return any(word in text for word in _REFUSED)


def _sudo_setting(config):
    """(the ICMP prober has a sudo option, it may use sudo)."""
    from guestagent import probes
    if "sudo" not in probes.options("icmp").fields:
        return False, False
    value = config.probes.icmp.get("sudo")
    return True, value not in (False, None, "never", "off", "no", "false")


def check_ping(config):
    """Plain ping, else `sudo -n ping`: which way works as this user (Guest Shell's user has
    passwordless sudo; unprivileged ICMP needs ping_group_range or a ping with cap_net_raw)."""
    from guestagent import proc
    needed = _needs(config, "icmp")
    bad = FAIL if needed else WARN
    unneeded = "" if needed else " (no test point needs it)"
    command = " ".join(PING_ARGV)
    plain = proc.run(PING_ARGV, timeout_s=5.0)
    if plain.missing:
        return Check("ping", bad, "ping is not installed" + unneeded,
                     "`sudo yum install iputils` (or probe via: ios)")
    if _worked(plain):
        return Check("ping", PASS, "plain ping works as {}: `{}`".format(_user(), command))
    if not _refused(plain):
        return Check("ping", bad, "`{}` failed: {}{}".format(command, _reason(plain), unneeded),
                     "check the loopback interface and ping's arguments (`{}` by hand)".format(
                         command))
    sudo = proc.run(["sudo", "-n"] + PING_ARGV, timeout_s=5.0)
    refused = "plain ping is refused as {}: {}".format(_user(), _reason(plain))
    if _worked(sudo):
        has_option, enabled = _sudo_setting(config)
        text = "ping needs sudo: works with sudo -n (probes.icmp.sudo: auto does it); " + refused
        if has_option and enabled:
            return Check("ping", PASS, text)
        if has_option:
            return Check("ping", bad, text + "; probes.icmp.sudo is off" + unneeded,
                         "set probes.icmp.sudo: auto, or " + ALLOW_ICMP)
        return Check("ping", bad, text + "; this version's ICMP prober does not use sudo" +
                     unneeded, ALLOW_ICMP)
    why = "sudo is not installed" if sudo.missing else _reason(sudo)
    return Check("ping", bad, "neither plain ping nor sudo -n ping works: {}; `sudo -n {}`: "
                 "{}{}".format(refused, command, why, unneeded),
                 ALLOW_ICMP + "; or give this user passwordless sudo (Guest Shell's user has "
                 "it); or probe via: ios")


def check_traceroute(config, device):
    """traceroute present and working; when absent, path discovery goes via IOS on a router."""
    from guestagent import proc
    needed = _needs(config, "traceroute")
    command = " ".join(TRACEROUTE_ARGV)
    result = proc.run(TRACEROUTE_ARGV, timeout_s=5.0)
    install = "`sudo yum install traceroute`"
    if result.missing:
        if not needed:
            return Check("traceroute", WARN, "traceroute is not installed (nothing traces from "
                         "Guest Shell)", install + " if a test point will need it")
        if device is not None and getattr(device, "kind", None) == "onbox":
            return Check("traceroute", WARN, "traceroute is not installed: path discovery goes "
                         "via IOS (`via: ios` traceroute, the router's path without Guest "
                         "Shell's NAT hop)", install + " to trace from Guest Shell, or set "
                         "path_discovery.via: ios to say so in the config")
        return Check("traceroute", FAIL, "traceroute is not installed and there is no router "
                     "to trace from: path discovery records a measurement error",
                     install + ", or path_discovery.enabled: false")
    if not _worked(result):
        return Check("traceroute", FAIL if needed else WARN, "`{}` failed: {}".format(
            command, _reason(result)), "check traceroute's permissions (`{}` by hand)".format(
                command))
    return Check("traceroute", PASS, "`{}` works".format(command))


def check_locale():
    """The locale EEM gives us (none: C). Files are read as UTF-8 and output escapes what the
    console cannot print, so any locale is fine; the line says which one this is."""
    import locale
    given = ["{}={}".format(k, os.environ[k]) for k in ("LC_ALL", "LC_CTYPE", "LANG")
             if os.environ.get(k)]
    encoding = locale.getpreferredencoding(False)
    ctype = os.environ.get("LC_CTYPE", "")
    if not given:
        name = "C locale, no LANG/LC_ALL"
    elif given == ["LC_CTYPE=" + ctype] and ctype in ("C.UTF-8", "C.utf8", "UTF-8") and \
            sys.version_info >= (3, 7):
        # Python 3.7+ sets LC_CTYPE itself under the C locale (PEP 538); 3.6 does not.
        name = "C locale, no LANG/LC_ALL; Python set LC_CTYPE={}".format(ctype)
    else:
        name = ", ".join(given)
    return Check("locale", PASS, "{} ({}): fine, the agent reads its files as UTF-8 and escapes "
                 "what the console cannot print".format(name, encoding))


def secret_files(config):
    """[(what, path)]: the config file and every *_file secret it names."""
    from guestagent.config import EMBEDDED_DEFAULT
    files = []
    source = getattr(config, "source", None) or ""
    if source and not source.startswith("<") and os.path.abspath(source) != EMBEDDED_DEFAULT:
        files.append(("config", source))
    for sink in ("pushgateway", "victoriametrics"):
        section = config.sinks[sink]
        for key in ("password_file", "bearer_token_file"):
            if section and section.get(key):
                files.append(("sinks.{}.{}".format(sink, key), section[key]))
    return files


def check_secrets(config):
    """The config and the secret files are readable by their owner only: guest-share is read by
    IOS and by every Guest Shell process."""
    import stat as stats
    problems, loose, unreadable = [], [], []
    files = secret_files(config)
    for what, path in files:
        try:
            mode = stats.S_IMODE(os.stat(path).st_mode)
        except (IOError, OSError) as exc:
            problems.append("{} {} cannot be read: {}".format(what, path, exc.strerror or exc))
            unreadable.append(path)
            continue
        if mode & 0o044:
            whom = " and ".join(w for bit, w in ((0o040, "group"), (0o004, "others"))
                                if mode & bit)
            problems.append("{} {} is readable by {} (mode {:04o})".format(what, path, whom,
                                                                           mode))
            loose.append(path)
        elif not os.access(path, os.R_OK):
            problems.append("{} {} is not readable by {}".format(what, path, _user()))
            unreadable.append(path)
    if problems:
        fixes = []
        if loose:
            fixes.append("`chmod 600 {}`".format(" ".join(loose)))
        if unreadable:
            fixes.append("create it, owned by the Guest Shell user, mode 600: {}".format(
                " ".join(unreadable)))
        return Check("secrets", FAIL, "; ".join(problems), "; ".join(fixes))
    if not files:
        return Check("secrets", PASS, "no config file or secret file to check")
    return Check("secrets", PASS, "{} readable by the owner only".format(
        ", ".join(path for _what, path in files)))


# -- nothing secret in what doctor prints ------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"//[^/@\s'\"]+@")
_SECRET_VALUE = re.compile(r"((?:password|token|secret)[\w.\[\]]*: .*?\bgot )(.+)$", re.I)


def secrets_of(config):
    """The secret values a config holds: inline, in its files, in URLs."""
    values = []
    if config is None:
        return values
    for sink in ("pushgateway", "victoriametrics"):
        section = config.sinks[sink]
        if not section:
            continue
        values.extend(v for v in (section.get("password"), section.get("bearer_token")) if v)
        for key in ("password_file", "bearer_token_file"):
            if section.get(key):
                try:
                    with open(section[key], "rb") as f:
                        text = f.read().decode("utf-8", "replace").strip()
                except (IOError, OSError):
                    continue
                values.extend(v for v in (text, text.splitlines()[0] if text else "") if v)
        match = re.match(r"^[a-z]+://([^/@]+)@", section.get("url") or "")
        if match:
            values.extend(v for v in match.group(1).split(":", 1)[1:] if v)
    return sorted(set(values), key=len, reverse=True)


def scrub(text, secrets):
    if not text:
        return text
    text = _URL_CREDENTIALS.sub("//***@", text)
    text = _SECRET_VALUE.sub(lambda m: m.group(1) + "***", text)
    for value in secrets:
        text = text.replace(value, "***")
    return text


def check_state_dir(config):
    import tempfile
    state_dir = config.agent.state_dir
    checks = []
    for label, directory in (("state dir", state_dir), ("journal", config.journal.dir)):
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o750)
            fd, probe_path = tempfile.mkstemp(prefix=".doctor-", dir=directory)
            try:
                os.write(fd, b"ok\n")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.remove(probe_path)
        except (IOError, OSError) as exc:
            checks.append(Check(label, FAIL, "{} is not writable: {}".format(
                directory, exc.strerror or exc),
                "create it writable by the Guest Shell user (install.sh does), or set "
                "agent.state_dir / journal.dir"))
            continue
        stat = os.statvfs(directory)
        free = stat.f_bavail * stat.f_frsize
        needed = journal_capacity(config)
        text = "{} writable, {:.0f} MB free".format(directory, free / 1e6)
        if free < max(MIN_FREE_BYTES, needed):
            checks.append(Check(label, FAIL, text + ", the journal needs {:.1f} MB".format(
                needed / 1e6), "free space on bootflash (`dir bootflash:`, delete old images)"))
        elif free < LOW_FREE_BYTES:
            checks.append(Check(label, WARN, text, "free space on bootflash"))
        else:
            checks.append(Check(label, PASS, text))
    return checks


def journal_capacity(config):
    journal = config.journal
    return min(journal.budget_bytes, journal.max_bytes * (journal.keep_files + 1))


# A compact journal line per test point and per report, measured with loopback test points
# (bench/journal.py: 1.7 KB at 10 points, 9.3 KB at 50), rounded up: real round-trip times
# vary more than loopback's, and vary more compresses less.
ESTIMATE_BYTES_PER_POINT = 200
ESTIMATE_BYTES_PER_REPORT = 400
HISTORY_MIN_DAYS = 2.0  # the store-and-forward window an uplink outage may need


def check_history(config):
    """How many days of reports the journal's budget holds at this config's cycle."""
    from guestagent.sinks import journal
    capacity = journal_capacity(config)
    interval_s = float(config.agent.interval_s)
    try:
        measured = journal.bytes_per_report(config.journal.dir)
    except (IOError, OSError):
        measured = None
    points = len(config.targets or [])
    if measured:
        per_report, source = measured, "this journal's newest lines"
    else:
        per_report = ESTIMATE_BYTES_PER_REPORT + ESTIMATE_BYTES_PER_POINT * max(points, 1)
        source = "an estimate for {} test point(s)".format(points)
    days = capacity / per_report * interval_s / 86400.0
    text = "the budget of {:.1f} MB holds {:.1f} days at one cycle every {:.0f} s ({:.0f} bytes " \
        "per report, from {})".format(capacity / 1e6, days, interval_s, per_report, source)
    if days < HISTORY_MIN_DAYS:
        return Check("history", WARN, text, "raise journal.budget_bytes (bootflash has room) "
                     "or the cycle interval")
    return Check("history", PASS, text)


# File systems that journal their metadata: each fsync that changes a file's size, and each
# changed modification time, costs such a file system a commit of its own on the flash
# (docs/flash.md, "On the device": 46 KiB a cycle on ext4 against 10 KiB of the agent's writes).
JOURNALING_FS = ("ext3", "ext4", "xfs", "jfs", "reiserfs", "btrfs", "f2fs", "nilfs2")


def mount_of(path, mounts_text):
    """(mount point, type, options) of the mount `path` lies on, from /proc/mounts' text; None
    when no line covers it. The longest mount point that is a prefix wins (the last one mounted
    there, as the kernel resolves it)."""
    path = os.path.abspath(path)
    best = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        point = fields[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fields[2], fields[3].split(","))
    return best


def check_flash(config, mounts_path="/proc/mounts"):
    """The file system the journal is written to, and what it adds to each cycle's writes."""
    directory = os.path.realpath(config.journal.dir)
    try:
        with open(mounts_path) as f:
            found = mount_of(directory, f.read())
    except (IOError, OSError) as exc:
        return Check("flash", SKIP, "cannot read {}: {}".format(mounts_path, exc.strerror or exc))
    if found is None:
        return Check("flash", SKIP, "no mount found for {}".format(directory))
    point, kind, options = found
    text = "the journal is on {} ({}, {})".format(point, kind, ",".join(
        o for o in options if o in ("rw", "ro", "noatime", "relatime", "strictatime",
                                    "lazytime", "sync")) or "defaults")
    if kind == "tmpfs" or kind == "ramfs":
        return Check("flash", WARN, text + ": memory, lost at a reload",
                     "set journal.dir on bootflash (/bootflash/guest-share/guestagent/...)")
    if kind in JOURNALING_FS and "lazytime" not in options:
        text += "; each cycle's two durable writes (its report, its state) also cost {} a " \
            "journal commit each".format(kind)
    return Check("flash", PASS, text)


def check_pushgateway(config):
    from guestagent.sinks import pushgateway
    push = config.sinks.pushgateway
    if push is None:
        return Check("pushgateway", WARN, "no sinks.pushgateway: metrics stay in the journal",
                     "set sinks.pushgateway.url")
    url = push.url.rstrip("/") + "/-/healthy"
    shown = pushgateway.redact(url)
    try:
        pushgateway._handler(push)(url, "GET", push.timeout_s, [], None)()
    except Exception as exc:
        reason = pushgateway.redact(getattr(exc, "reason", None) or exc)
        return Check("pushgateway", FAIL, "{}: {}: {}".format(shown, type(exc).__name__, reason),
                     "check the URL, the route from Guest Shell (VirtualPortGroup0 NAT), "
                     "credentials and ca_file")
    return Check("pushgateway", PASS, "{} answers".format(shown))


def check_gps(config, device):
    from guestagent.device import DeviceError
    router = config.router
    location = router.location
    if location.latitude is not None and location.longitude is not None:
        return Check("gps", PASS, "static location {:.5f}, {:.5f}{}".format(
            location.latitude, location.longitude,
            " ({})".format(location.name) if location.name else ""))
    if not router.gps.enabled:
        return Check("gps", WARN, "GPS disabled and no static location",
                     "set router.location for a fixed site")
    if device is None:
        return Check("gps", SKIP, "no router to ask")
    command = "show cellular {} gps".format(router.gps.slot)
    try:
        from guestagent import ios
        parsed = ios.parser("show-cellular-gps")(device.execute(command))
    except DeviceError as exc:
        return Check("gps", WARN, "`{}` failed: {}".format(command, exc),
                     "no cellular module with GNSS here: set router.location, or "
                     "router.gps.enabled: false")
    if parsed.get("has_fix"):
        return Check("gps", PASS, "{} fix {:.5f}, {:.5f} ({} satellites)".format(
            parsed.get("fix_type") or "", parsed["latitude"], parsed["longitude"],
            parsed.get("satellites_in_view") or len(parsed.get("satellites") or []) or "?"))
    return Check("gps", WARN, "no fix: GPS Status = {}".format(parsed.get("status") or "?"),
                 "`controller Cellular {}` / `lte gps mode standalone` / `lte gps nmea`, reload "
                 "the modem, check the GNSS antenna (active antennas need bias) and its sky "
                 "view".format(router.gps.slot))


def _parse(kind, text):
    from guestagent import ios
    if kind not in ios.PARSERS:
        return None
    try:
        return ios.parser(kind)(text)
    except Exception:
        return None


def check_ipsla(config, device):
    from guestagent.device import DeviceError
    if device is None:
        return Check("ip sla", SKIP, "no router to ask")
    operations, failure = {}, None
    # The summary is short; the statistics are the collector's own source and the fallback when
    # the summary parser is absent or does not recognise this release's layout.
    for command, kind in (("show ip sla summary", "show-ip-sla-summary"),
                          ("show ip sla statistics", "show-ip-sla-statistics")):
        try:
            parsed = _parse(kind, device.execute(command))
        except DeviceError as exc:
            failure = exc
            continue
        operations = (parsed or {}).get("operations") or {}
        if operations:
            break
    if not operations and failure is not None:
        return Check("ip sla", WARN, "cannot read IP SLA: {}".format(failure),
                     "optional: configure IP SLA operations (eem/ip-sla-example.cfg)")
    if not operations:
        return Check("ip sla", WARN, "no IP SLA operation configured",
                     "optional: configure IP SLA operations (eem/ip-sla-example.cfg)")
    codes = []
    for op_id in sorted(operations, key=lambda k: (len(k), k)):
        codes.append("{} {}".format(op_id, operations[op_id].get("return_code") or "?"))
    failing = [c for c in codes if not c.endswith(" OK")]
    text = "{} operation(s): {}".format(len(operations), ", ".join(codes))
    if failing:
        return Check("ip sla", WARN, text, "operations not OK: see `show ip sla statistics`")
    return Check("ip sla", PASS, text)


def check_tracks(config, device):
    from guestagent import eem
    from guestagent.device import DeviceError
    wanted = sorted(set(eem.settings(config).tracks or []))
    if not wanted:
        return Check("tracks", PASS, "no track applet configured (eem.tracks)")
    if device is None:
        return Check("tracks", SKIP, "no router to ask")
    try:
        parsed = _parse("show-track", device.execute("show track"))
    except DeviceError as exc:
        parsed, failure = None, exc
        return Check("tracks", FAIL, "`show track` failed: {}".format(failure),
                     "configure `track N ip sla N reachability` for eem.tracks")
    if parsed is None:
        return Check("tracks", WARN, "no `show track` parser in this version",
                     "check `show track` by hand")
    tracks = parsed.get("tracks") or {}
    missing = [str(t) for t in wanted if str(t) not in tracks]
    states = ", ".join("{} {}".format(t, tracks[str(t)].get("state") or "?")
                       for t in wanted if str(t) in tracks)
    if missing:
        return Check("tracks", FAIL, "eem.tracks {} not on the router{}".format(
            ", ".join(missing), " (present: " + states + ")" if states else ""),
            "configure `track {0} ip sla {0} reachability` or drop it from eem.tracks".format(
                missing[0]))
    return Check("tracks", PASS, states)


def check_applets(config, device):
    from guestagent import eem
    from guestagent.device import DeviceError
    if device is None:
        return Check("eem", SKIP, "no router to ask")
    if device.kind == "simulated":
        return Check("eem", SKIP, "simulated router: applets not checked")
    try:
        running = device.execute(eem.RUNNING_COMMAND) or ""
    except DeviceError as exc:
        # An empty section makes the module itself raise AttributeError (no text to strip,
        # platform.md): no event manager configuration at all.
        if "AttributeError" not in str(exc):
            return Check("eem", WARN, "cannot read the running config: {}".format(exc),
                         "check `show running-config | section event manager` by hand")
        running = ""
    # The timer's spread is hashed from the serial, as `eem apply` read it.
    serial = eem.read_serial(device) if eem.spread(config, key="-") else None
    diff = eem.compare(config, running, serial=serial)
    if diff["different"] or diff["stale"] or diff["session"] is False:
        parts = []
        if diff["different"]:
            parts.append("differ from the config: " + ", ".join(diff["different"]))
        if diff["stale"]:
            parts.append("not in the config: " + ", ".join(diff["stale"]))
        if diff["missing"]:
            parts.append("missing: " + ", ".join(diff["missing"]))
        if diff["session"] is False:
            line, _user = eem.running_session(eem.parse_running(running)[1])
            parts.append("session user: the router has {}, the config wants {!r}".format(
                "`{}`".format(line) if line else "none", eem.settings(config).session_user))
        return Check("eem", WARN, "; ".join(parts), "`guestagent eem apply`")
    if diff["missing"] and not diff["matching"]:
        return Check("eem", WARN, "no applet installed: nothing starts the agent",
                     "`guestagent eem apply` (or install.sh --apply-eem)")
    if diff["missing"]:
        return Check("eem", WARN, "missing: " + ", ".join(diff["missing"]),
                     "`guestagent eem apply`")
    return Check("eem", PASS, "{} applet(s) match the config: {}".format(
        len(diff["matching"]), ", ".join(diff["matching"])))


def run_checks(config_path):
    """Every check, with any secret of the config masked in what they say."""
    checks, config = _run_checks(config_path)
    secrets = secrets_of(config)
    for check in checks:
        check.message = scrub(check.message, secrets)
        check.fix = scrub(check.fix, secrets)
    return checks


def _run_checks(config_path):
    checks = [check_python()]
    config, check = check_config(config_path)
    checks.append(check)
    if config is None:
        return checks, None
    checks.append(check_eem_timing(config))
    device, check = open_device(config)
    checks.append(check)
    checks.append(check_ping(config))
    checks.append(check_traceroute(config, device))
    checks.append(check_locale())
    checks.append(check_secrets(config))
    checks.extend(check_state_dir(config))
    checks.append(check_history(config))
    checks.append(check_flash(config))
    checks.append(check_pushgateway(config))
    checks.append(check_gps(config, device))
    checks.append(check_ipsla(config, device))
    checks.append(check_tracks(config, device))
    checks.append(check_applets(config, device))
    return checks, config


def main(args):
    checks = run_checks(args.config)
    if args.json:
        import json
        sys.stdout.write(json.dumps([c.as_dict() for c in checks], indent=2) + "\n")
    else:
        for check in checks:
            sys.stdout.write(check.line() + "\n")
    failed = [c for c in checks if c.status == FAIL]
    if not args.json:
        sys.stdout.write("{} check(s): {} failed, {} warning(s)\n".format(
            len(checks), len(failed), sum(1 for c in checks if c.status == WARN)))
    return 1 if failed else 0
