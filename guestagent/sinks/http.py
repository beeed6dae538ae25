"""What the Pushgateway and VictoriaMetrics sinks share: their secrets, their TLS, the redaction of
what they record, and one HTTP request under a total deadline (`guestagent.httpio`).

Whatever goes wrong (a secret file that cannot be read, a CA file that is missing or not PEM,
credentials in the URL, the server, the deadline) is a `SinkError` whose text is already
redacted: the sink records it in its outcome and the cycle goes on. Recorded text never carries
an Authorization value, URL credentials or anything read from a secret file, even when a proxy
echoes the request back in its error body.
"""

import base64
import re

# Recorded error bodies are cut to this many characters (after redaction).
BODY_CHARS = 160
# ... from at most this many bytes read.
BODY_READ_BYTES = 4096
# Shorter secrets cannot be told apart from ordinary text: a body is then not recorded at all.
SHORT_SECRET_CHARS = 4

_URL_CREDENTIALS = re.compile(r"(//)[^/@\s]*@")
# A field that holds a credential, and its value: an optional scheme word, then one token.
_AUTHORIZATION_FIELD = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api[-_]?key|token|password|passwd)"
    r"([\"']?\s*[:=]\s*[\"']?)((?:[a-z]+\s+)?[^\s\"'<>,;&}]+)")
_AUTH_SCHEME = re.compile(r"(?i)\b(basic|bearer|digest|negotiate)(\s+)[A-Za-z0-9._~+/=:-]+")
_SPACE = re.compile(r"\s+")


class SinkError(Exception):
    """A sink's failure; its text is safe to record."""


class Target(object):
    """A sink's endpoint, ready to send to: address parts, Authorization header, TLS context."""

    def __init__(self, name, url, authorization, secrets, context):
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        self.name = name
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.authorization = authorization
        self.secrets = secrets
        self.context = context
        # Bytes the requests to this target put on the wire (request line, headers, body) and
        # what came back (status line, headers, body as read): the telemetry byte counter's.
        self.wire_bytes = 0


def prepare(name, sink_config):
    """The sink's Target, or SinkError (secrets, CA file, URL): nothing is sent then."""
    from urllib.parse import urlsplit
    url = sink_config.url
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise SinkError("{}: the URL {} is not valid".format(name, redact(url)))
    if "@" in parts.netloc:
        raise SinkError("{}: credentials in the URL ({}) are refused: give username and "
                        "password_file, or bearer_token_file".format(name, redact(url)))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SinkError("{}: the URL {} is not http:// or https://".format(name, redact(url)))
    secrets = []
    authorization = None
    username = sink_config.get("username")
    password = _secret(name, "password", sink_config, secrets)
    token = _secret(name, "bearer_token", sink_config, secrets)
    if username:
        pair = base64.b64encode("{}:{}".format(username, password or "").encode("utf-8"))
        secrets.append(pair.decode("ascii"))
        authorization = "Basic " + pair.decode("ascii")
    elif token:
        authorization = "Bearer " + token
    context = None
    if parts.scheme.lower() == "https":
        context = tls_context(name, sink_config)
    return Target(name, url, authorization, secrets, context)


def _secret(name, key, sink_config, secrets):
    """The value of `key`, or of `key_file`, added to `secrets`; SinkError if the file fails."""
    value = sink_config.get(key)
    path = sink_config.get(key + "_file")
    if not value and path:
        try:
            with open(path, "rb") as f:
                raw = f.read(65536)
        except (IOError, OSError) as exc:
            raise SinkError("{}: cannot read {}_file {}: {}".format(
                name, key, path, exc.strerror or type(exc).__name__))
        text = raw.decode("utf-8", "replace")
        secrets.extend(line.strip() for line in text.splitlines() if line.strip())
        value = text.strip()
        if not value:
            raise SinkError("{}: {}_file {} is empty".format(name, key, path))
        if "\n" in value or "\r" in value:
            raise SinkError("{}: {}_file {} holds more than one line".format(name, key, path))
    if value:
        secrets.append(value)
    return value or None


def tls_context(name, sink_config):
    """Both sinks' TLS: `verify_tls` and `ca_file` mean the same for each (httpio.tls_context)."""
    import ssl
    from guestagent.httpio import tls_context as make
    ca_file = sink_config.get("ca_file")
    verify = sink_config.get("verify_tls")
    try:
        return make(ca_file, True if verify is None else bool(verify))
    except (IOError, OSError, ssl.SSLError, ValueError) as exc:
        raise SinkError("{}: cannot load ca_file {}: {}".format(
            name, ca_file, getattr(exc, "strerror", None) or exc))


def send(target, method, path, headers, body, deadline, timeout_s, answer_bytes=0):
    """One request, all of it (resolution, connect, TLS, body, answer) within
    min(timeout_s, deadline); returns (status, the start of the body when status >= 300:
    at most BODY_READ_BYTES, what arrived in time). With `answer_bytes`, a 2xx body is read too
    (at most that many bytes; a body cut short raises)."""
    from guestagent.httpio import Exchange, host_header
    from guestagent.probes.common import resolve
    limit = deadline.within(timeout_s)
    if limit.remaining() < 0.05:
        raise SinkError("no time left in the cycle's deadline")
    address, _, _, error = resolve(target.host, limit.remaining())
    if error:
        raise SinkError(redact(error, target.secrets))
    all_headers = list(headers.items() if hasattr(headers, "items") else headers)
    if target.authorization:
        all_headers.append(("Authorization", target.authorization))
    all_headers.append(("Connection", "close"))
    host = host_header(target.host, target.port, target.scheme)
    with Exchange(limit, timeout_s) as exchange:
        try:
            exchange.connect(address, target.port)
            if target.context is not None:
                exchange.start_tls(target.context, target.host)
            # Counted once connected, whether or not all of it leaves: a metered link bills
            # what was sent, so the counter errs on the side of too much.
            target.wire_bytes += request_bytes(method, path, all_headers, body, host)
            exchange.request(method, path, all_headers, body, host=host)
            response = exchange.response()
            target.wire_bytes += _response_head_bytes(response)
        except Exception as exc:  # whatever the network or the server did: recorded, not raised
            # Library messages may quote what the server sent (a bad status line): redact
            # and cut them as a body.
            raise SinkError(one_line(redact(exchange.failure(exc), target.secrets)))
        data = b""
        try:
            if response.status >= 300:  # the status is the answer; a body only says why
                data = exchange.read_body(response, BODY_READ_BYTES, partial_ok=True)
            elif answer_bytes:
                data = exchange.read_body(response, answer_bytes)
        except Exception as exc:
            raise SinkError(one_line(redact(exchange.failure(exc), target.secrets)))
        target.wire_bytes += len(data)
    return response.status, data


def request_bytes(method, path, headers, body, host):
    """The size of a request as httpio.Exchange.request writes it (HTTP/1.1, a Host header,
    Content-Length when there is a body)."""
    size = len("{} {} HTTP/1.1\r\n".format(method, path).encode("utf-8"))
    fields = [("Host", host)] + list(headers)
    if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                    for k, _ in fields):
        fields.append(("Content-Length", str(len(body))))
    size += sum(len("{}: {}\r\n".format(k, v).encode("latin-1", "replace")) for k, v in fields)
    return size + 2 + len(body or b"")


def _response_head_bytes(response):
    """The status line and headers of an answer, as received (near enough: header lines as
    http.client kept them)."""
    try:
        head = len("HTTP/1.1 {} {}\r\n".format(response.status, response.reason))
        return head + sum(len(k) + len(v) + 4 for k, v in response.getheaders()) + 2
    except Exception:  # an answer without a usable head still counts its body
        return 0


def redact(text, secrets=()):
    """`text` without URL credentials, Authorization values, or any of `secrets`."""
    text = str(text)
    for secret in sorted(set(s for s in secrets if s), key=len, reverse=True):
        for form in _forms(secret):
            text = text.replace(form, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _AUTHORIZATION_FIELD.sub(r"\1\2***", text)
    return _AUTH_SCHEME.sub(r"\1\2***", text)


def _forms(secret):
    """The ways a secret shows in an echoed request: as is, URL-quoted, JSON-escaped, base64."""
    import json
    from urllib.parse import quote, quote_plus
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms.add(base64.b64encode(secret.encode("utf-8")).decode("ascii"))
    return sorted(forms, key=len, reverse=True)


def short_body(data, secrets=()):
    """An error body as one short line, redacted; withheld when a secret is too short to find."""
    if not data:
        return ""
    if any(s and len(s) < SHORT_SECRET_CHARS for s in secrets):
        return "({} bytes, not recorded: a configured secret is too short to redact)".format(
            len(data))
    return one_line(redact(data.decode("utf-8", "replace"), secrets))


def one_line(text, limit=BODY_CHARS):
    """Text as one printable line of at most `limit` characters (cut after redaction)."""
    text = _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in text)).strip()
    if len(text) > limit:
        text = text[:limit] + "..."
    return text
