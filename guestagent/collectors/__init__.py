"""What a cycle reads from the router, one module per feature (see docs/architecture.md).

Each module has `collect(device, config, deadline) -> data` and `metrics(data, out)`; the report
holds `data` under the key it is registered with.
"""

import importlib

COLLECTORS = {
    "ipsla": "guestagent.collectors.ipsla",
    "location": "guestagent.collectors.location",
    "cellular": "guestagent.collectors.cellular",
    "interfaces": "guestagent.collectors.interfaces",
}


def module(name):
    return importlib.import_module(COLLECTORS[name])
