"""Push a cycle's metrics to a Prometheus Pushgateway.

Rendering and the push protocol (PUT to /metrics/job/<job>/instance/<instance>, `@base64` for
values that need it) are prometheus_client's; the HTTP handler is ours for basic auth or bearer
token, TLS verification with an optional CA file, and a timeout. One retry inside the deadline.
The Pushgateway rejects timestamps, so none are sent: cumulative counters carry what happened
while pushes failed.
"""

import re
import time

_CREDENTIALS_IN_URL = re.compile(r"//[^/@]+@")


def redact(text):
    return _CREDENTIALS_IN_URL.sub("//***@", str(text))


def _read_secret(value, path):
    if value:
        return value
    if path:
        with open(path) as f:
            return f.read().strip()
    return None


def _handler(push_config):
    import base64
    import ssl
    try:
        from urllib.request import Request, build_opener, HTTPSHandler, HTTPHandler
    except ImportError:  # pragma: no cover
        raise
    password = _read_secret(push_config.password, push_config.password_file)
    token = _read_secret(push_config.bearer_token, push_config.bearer_token_file)
    context = None
    if push_config.url.lower().startswith("https://"):
        context = ssl.create_default_context(cafile=push_config.ca_file)
        if not push_config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE

    def handler(url, method, timeout, headers, data):
        def handle():
            request = Request(url, data=data)
            request.get_method = lambda: method
            for key, value in headers:
                request.add_header(key, value)
            if push_config.username:
                pair = "{}:{}".format(push_config.username, password or "").encode("utf-8")
                request.add_header("Authorization",
                                   "Basic " + base64.b64encode(pair).decode("ascii"))
            elif token:
                request.add_header("Authorization", "Bearer " + token)
            opener = build_opener(HTTPSHandler(context=context) if context else HTTPHandler())
            response = opener.open(request, timeout=timeout)
            if response.getcode() >= 400:
                raise IOError("HTTP {} from the Pushgateway".format(response.getcode()))
        return handle

    return handler


def push(metric_set, push_config, job, instance, deadline, attempts=2):
    """Push; returns the outcome dict recorded under report.sinks.pushgateway."""
    from prometheus_client.exposition import push_to_gateway
    outcome = {"ok": False, "attempts": 0}
    started = time.monotonic()
    handler = _handler(push_config)
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
        except Exception as exc:
            last_error = _describe(exc)
    if last_error:
        outcome["error"] = redact(last_error)
    outcome["duration_s"] = round(time.monotonic() - started, 6)
    return outcome


def _describe(exc):
    code = getattr(exc, "code", None)
    if code is not None:
        body = ""
        try:
            body = exc.read().decode("utf-8", "replace").strip()[:300]
        except Exception:
            pass
        return "HTTP {} from the Pushgateway{}".format(code, ": " + body if body else "")
    reason = getattr(exc, "reason", None)
    return "{}: {}".format(type(exc).__name__, reason or exc)
