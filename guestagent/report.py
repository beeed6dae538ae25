"""The report: one JSON document per cycle, described by `report.schema.json` (shipped here).

Times are ISO 8601 UTC strings for people plus `*_ts` unix seconds for programs.
"""

import json
import os
import socket
import time
import uuid

SCHEMA_NAME = "guestagent.report"
SCHEMA_VERSION = 1
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.schema.json")


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def new(trigger, deadline_s, started_ts=None, track=None, track_state=None):
    from guestagent import __version__
    started_ts = time.time() if started_ts is None else started_ts
    cycle = {
        "id": "%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_ts)),
                         uuid.uuid4().hex[:8]),
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
        "agent": {"hostname": socket.gethostname(), "version": __version__},
        "cycle": cycle,
        "probes": [],
        "path": None,
        "location": {},
        "ipsla": [],
        "errors": [],
    }


def finish(report, finished_ts=None):
    finished_ts = time.time() if finished_ts is None else finished_ts
    cycle = report["cycle"]
    cycle["finished"] = iso(finished_ts)
    cycle["finished_ts"] = finished_ts
    cycle["duration_s"] = round(finished_ts - cycle["started_ts"], 6)
    return report


def add_error(report, where, message):
    report["errors"].append({"where": where, "message": str(message)})


def dumps(report, indent=None):
    return json.dumps(report, sort_keys=True, indent=indent, separators=(",", ":") if indent is None
                      else (",", ": "), default=str)


def load_schema():
    with open(SCHEMA_PATH) as f:
        return json.load(f)
