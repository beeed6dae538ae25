"""What the router collectors share: their settings and running one show command in time."""

from guestagent.device import DeviceError, DeviceTimeout

# A show command is not started with less time than this left in the cycle.
MIN_COMMAND_S = 0.5

# Words in a DeviceError that mean the router lacks the feature (not a failure to report).
# The on-box cli raises CLISyntaxError for a command this router's IOS does not have.
_ABSENT = ("% invalid input", "% incomplete command", "% unknown command", "has no output for it",
           "not supported", "% ambiguous command", "clisyntaxerror")


def settings(config):
    """The `router:` section, or its defaults when the config has none."""
    router = None
    if config is not None:
        router = config.get("router") if isinstance(config, dict) else getattr(config, "router",
                                                                                 None)
    if router is None:
        from guestagent.collectors.config import SCHEMA
        router = SCHEMA.defaults()
    return router


def command_timeout_s(config):
    try:
        return float(config.device.command_timeout_s)
    except (AttributeError, KeyError, TypeError, ValueError):
        return 8.0


def run(device, command, config, deadline):
    """The command's output; DeviceError when it failed or the cycle has no time left for it."""
    if device is None:
        raise DeviceError(command, "no router device")
    timeout_s = command_timeout_s(config)
    if deadline is not None:
        remaining = deadline.remaining()
        if remaining < MIN_COMMAND_S:
            raise DeviceTimeout(command, "not run: {:.1f} s left in the cycle".format(remaining))
        timeout_s = min(timeout_s, remaining)
    return device.execute(command, timeout_s=timeout_s)


def feature_absent(exc):
    """True when a DeviceError says IOS does not know the command here (no module, no feature)."""
    text = str(exc).lower()
    return any(word in text for word in _ABSENT)
