"""JSON through the interpreter's C codec without `json` (guestagent/jsontext.py): the text
`json.dumps` makes and the value `json.loads` reads, or json's own error, for every input."""

import json
import math

import pytest

from guestagent import jsontext
from tests.conftest import run_agent, write_config

VALUES = [None, True, False, 0, -1, 2 ** 70, 1.5, 1e300, -0.0, 1e-7, float("nan"),
          float("inf"), float("-inf"), "", "é\u2028\x00\"\\/\t", "\ud800", [], {}, [[[]]],
          {"b": 1, "a": [1, 2.25, {"c": None}]}, {1: "int key", 2.5: "float key", True: "t",
                                                  None: "n"},
          {"z": {"y": {"x": [True, None, "ü"]}}}, (1, 2), ["a" * 1000]]
OPTIONS = [{}, {"sort_keys": True}, {"separators": (",", ":")},
           {"sort_keys": True, "separators": (",", ":")}, {"default": str},
           {"sort_keys": True, "indent": 2}, {"indent": 2, "separators": (",", ": ")}]


def outcome(call, *args, **kwargs):
    try:
        return "value", call(*args, **kwargs)
    except Exception as exc:  # the same exception, type and message
        return type(exc).__name__, str(exc)


def same(a, b):
    if a[0] != b[0]:
        return False
    return repr(a[1]) == repr(b[1]) or (
        isinstance(a[1], float) and math.isnan(a[1]) and math.isnan(b[1]))


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_dumps_writes_what_json_writes(options):
    for value in VALUES + [object(), {"x": object()}, {(1, 2): 3}, {"a": 1, 2: "b"}]:
        expected = outcome(json.dumps, value, **options)
        assert outcome(jsontext.dumps, value, **options) == expected, (value, options)


def test_a_circular_value_is_refused_as_json_refuses_it():
    loop = []
    loop.append(loop)
    assert outcome(jsontext.dumps, loop) == outcome(json.dumps, loop)
    assert outcome(jsontext.dumps, loop)[0] == "ValueError"
    assert jsontext.dumps([1]) == "[1]"  # and the next call is not affected


TEXTS = ["", " ", "1", " 1 ", "\t{\"a\":1}\n", "  [] \r\n", "[1,2", "{} x", "1 2", "\ufeff{}",
         "NaN", "-Infinity", "[Infinity]", "[1e5, 2E-3, -0, -0.0]", "\"\\u00e9\"",
         "\"\\ud834\\udd1e\"", "\"a\x01\"", "{\"a\":1,}", "\x0c1", "1\x0b", "\u20281", "tru",
         "{\"a\": {\"a\": \"a\"}, \"a\": 2}", "[" * 50 + "]" * 50, "0123", "\"unterminated",
         "{\"k\" 1}", "[1,]", "12345678901234567890123456789", "1.5e400", "\"\\x\""]


def test_loads_reads_what_json_reads_and_fails_as_json_fails():
    texts = TEXTS + [json.dumps(value) for value in VALUES if not isinstance(value, dict) or
                     all(isinstance(key, str) for key in value)]
    for text in texts:
        assert same(outcome(jsontext.loads, text), outcome(json.loads, text)), repr(text)
    for data in [b"{\"a\": 1}", b"\xef\xbb\xbf[1]", b"\xff"]:  # bytes: json's own rules
        assert same(outcome(jsontext.loads, data), outcome(json.loads, data)), data


def test_a_cycles_files_read_back_as_json_reads_them(tmp_path):
    """The report, the journal's lines and the cycle state of a real cycle."""
    config = write_config(tmp_path, """
agent: {{state_dir: {state}, deadline_s: 20}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
targets: []
""".format(state=tmp_path / "state"))
    done = run_agent(["run", "--dry-run", "--json", "--config", config])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert jsontext.loads(done.stdout) == report
    assert jsontext.dumps(report, sort_keys=True, separators=(",", ":")) == json.dumps(
        report, sort_keys=True, separators=(",", ":"))
    lines = 0
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json"):
            for line in path.read_text().splitlines():
                assert same(outcome(jsontext.loads, line), outcome(json.loads, line))
                lines += 1
    assert lines >= 1
