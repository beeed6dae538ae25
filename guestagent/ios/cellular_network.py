"""`show cellular <slot> network`: the mobile network the modem is registered on.

Keys: `service_status`, `service`, `roaming`, `selection_mode`, `operator` (`Network =`), `mcc`
and `mnc` (text: leading zeros count), `ps_state`, `registration` (EMM or CS/PS registration
state), `emm_sub_state`, `tac` (Tracking Area Code), `lac`, `cell_id` (decimal as printed;
`cell_id_text` when it is not a number, e.g. masked), `mtu`, `system_time`.
"""

from guestagent.ios import cellular_kv

COMMAND = "show cellular {slot} network"

SCHEMA = {
    "recognized": bool, "service_status": str, "service": str, "roaming": str,
    "selection_mode": str, "operator": str, "mcc": str, "mnc": str, "ps_state": str,
    "registration": str, "emm_sub_state": str, "tac": int, "lac": int, "cell_id": int,
    "cell_id_text": str,
    "mtu": int, "system_time": str,
}

_TABLE = {
    "system time": ("system_time", "text"),
    "service status": ("service_status", "text"),
    "service": ("service", "text"),
    "roaming status": ("roaming", "text"),
    "network selection mode": ("selection_mode", "text"),
    "network": ("operator", "text"),
    # Text: leading zeros are part of the code (MNC 01 and 001 differ).
    "mobile country code (mcc)": ("mcc", "text"),
    "mobile network code (mnc)": ("mnc", "text"),
    "packet switch domain(ps) state": ("ps_state", "text"),
    "packet switch domain (ps) state": ("ps_state", "text"),
    "registration state(emm)": ("registration", "text"),
    "registration state (emm)": ("registration", "text"),
    "registration state": ("registration", "text"),
    "emm sub state": ("emm_sub_state", "text"),
    "tracking area code (tac)": ("tac", "int"),
    "location area code (lac)": ("lac", "int"),
    "cell id": ("cell_id", "hexint"),
    "network mtu": ("mtu", "int"),
}


def parse(text):
    result = cellular_kv.read(text, _TABLE)
    result["recognized"] = any(k in result for k in (
        "operator", "service_status", "registration", "cell_id", "mcc"))
    return result
