"""The report: one JSON document per cycle, described by `report.schema.json` (shipped here).

Times are ISO 8601 UTC strings for people plus `*_ts` unix seconds for programs. They come from
`now()`, the agent's wall clock: `$GUESTAGENT_CLOCK_OFFSET_S` shifts it (the fault tests step the
clock with it; nothing that orders or resumes work depends on it, see docs/architecture.md).
"""

import os
import time

SCHEMA_NAME = "guestagent.report"
SCHEMA_VERSION = 1
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.schema.json")


def _hostname():
    # gethostname() is uname's nodename on Linux; the socket module's import (enum classes on
    # Python 3.6) was a tenth of a zero-test-point cycle's start-up.
    return os.uname()[1]


def now():
    """The wall clock, shifted by $GUESTAGENT_CLOCK_OFFSET_S when set (clock-step tests)."""
    offset = os.environ.get("GUESTAGENT_CLOCK_OFFSET_S")
    if offset:
        try:
            return time.time() + float(offset)
        except ValueError:
            pass
    return time.time()


class Partial(Exception):
    """Raised by a collector that has data and problems: the report keeps both."""

    def __init__(self, data, errors):
        Exception.__init__(self, "; ".join(errors))
        self.data = data
        self.errors = list(errors)


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def new(trigger, deadline_s, started_ts=None, track=None, track_state=None):
    from guestagent import __version__
    started_ts = now() if started_ts is None else started_ts
    cycle = {
        "id": "%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_ts)),
                         os.urandom(4).hex()),
        "trigger": trigger,
        "started": iso(started_ts),
        "started_ts": started_ts,
        "finished": None,
        "finished_ts": None,
        "duration_s": None,
        "deadline_s": deadline_s,
    }
    if track is not None:
        cycle["track"] = {"id": track, "state": track_state}
    return {
        "schema": {"name": SCHEMA_NAME, "version": SCHEMA_VERSION},
        "agent": {"hostname": _hostname(), "version": __version__},
        "cycle": cycle,
        "probes": [],
        "path": None,
        "location": {},
        "ipsla": [],
        "errors": [],
    }


def finish(report, finished_ts=None):
    finished_ts = now() if finished_ts is None else finished_ts
    cycle = report["cycle"]
    cycle["finished"] = iso(finished_ts)
    cycle["finished_ts"] = finished_ts
    cycle["duration_s"] = round(finished_ts - cycle["started_ts"], 6)
    return report


def add_error(report, where, message):
    report["errors"].append({"where": where, "message": str(message)})


def dumps(report, indent=None):
    from guestagent import jsontext
    return jsontext.dumps(report, sort_keys=True, indent=indent,
                          separators=(",", ":") if indent is None else (",", ": "),
                          default=str)


def load_schema():
    import json
    with open(SCHEMA_PATH) as f:
        return json.load(f)
