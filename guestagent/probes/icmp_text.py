"""Linux `ping` output (iputils, busybox, ...) -> the ICMP sample fields of docs/metrics.md."""

COMMAND = "ping -n -c COUNT HOST (Linux)"


def parse(text, timeout_s=2.0):
    from guestagent.probes.icmp import summarize_output
    try:
        fields = summarize_output(text, timeout_s)
    except Exception:  # pingparsing raises on text it cannot read at all
        return {"recognized": False}
    fields["recognized"] = bool(fields["sent"])
    return fields
