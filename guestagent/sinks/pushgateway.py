"""Push a cycle's metrics to a Prometheus Pushgateway.

Rendering and the push protocol (PUT to /metrics/job/<job>/instance/<instance>, `@base64` for
values that need it) are prometheus_client's; the `handler` it calls is ours (sinks/http.py):
basic auth or bearer token, TLS as the other sink does it, and a whole-request deadline that a
slow gateway cannot stretch. One retry inside the deadline. The Pushgateway rejects timestamps,
so none are sent: cumulative counters carry what happened while pushes failed.
"""

import time

from guestagent.sinks import http


def redact(text, secrets=()):
    return http.redact(text, secrets)


def _handler(target, deadline=None):
    """A prometheus_client handler sending through sinks/http.py within `timeout` and
    `deadline`. `target` is a sinks.http.Target, or the sink's config (which may raise
    SinkError)."""
    if not isinstance(target, http.Target):
        target = http.prepare("pushgateway", target)

    def handler(url, method, timeout, headers, data):
        def handle():
            from urllib.parse import urlsplit
            from guestagent.deadline import Deadline
            parts = urlsplit(url)
            path = parts.path + ("?" + parts.query if parts.query else "")
            status, body = http.send(target, method, path, headers, data,
                                     deadline or Deadline(timeout), timeout)
            if status >= 400:
                text = http.short_body(body, target.secrets)
                raise http.SinkError("HTTP {} from the Pushgateway{}".format(
                    status, ": " + text if text else ""))
        return handle
    return handler


def push(metric_set, push_config, job, instance, deadline, attempts=2):
    """Push; returns the outcome dict recorded under report.sinks.pushgateway. Never raises for
    what the outside does (secret and CA files, the network, the gateway)."""
    from prometheus_client.exposition import push_to_gateway
    outcome = {"ok": False, "attempts": 0}
    started = time.monotonic()
    secrets = []
    try:
        target = http.prepare("pushgateway", push_config)
    except http.SinkError as exc:
        outcome["error"] = str(exc)
        outcome["duration_s"] = round(time.monotonic() - started, 6)
        return outcome
    secrets = target.secrets
    handler = _handler(target, deadline)
    registry = metric_set.registry()
    last_error = None
    for attempt in range(attempts):
        timeout_s = min(push_config.timeout_s, deadline.remaining())
        if timeout_s < 0.2:
            last_error = last_error or "no time left in the cycle's deadline"
            break
        outcome["attempts"] = attempt + 1
        try:
            push_to_gateway(push_config.url, job=job, registry=registry,
                            grouping_key={"instance": instance}, timeout=timeout_s,
                            handler=handler)
            outcome["ok"] = True
            last_error = None
            break
        except http.SinkError as exc:
            last_error = str(exc)
        except Exception as exc:
            last_error = "{}: {}".format(type(exc).__name__, exc)
    if last_error:
        outcome["error"] = redact(last_error, secrets)
    outcome["duration_s"] = round(time.monotonic() - started, 6)
    return outcome
