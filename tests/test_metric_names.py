"""Every metric a cycle emits is documented in docs/metric-names.md."""

import os
import re

from guestagent import config
from guestagent.cycle import Cycle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def documented():
    with open(os.path.join(ROOT, "docs", "metric-names.md")) as f:
        return set(re.findall(r"`(guestagent_[a-z0-9_]+)`", f.read()))


def test_every_emitted_name_is_documented(tmp_path):
    cfg = config.load(config.EMBEDDED_DEFAULT)
    cfg.agent.state_dir = str(tmp_path)
    cfg.journal.dir = str(tmp_path / "journal")
    cfg.probes.icmp.count = 3
    cycle = Cycle(cfg, dry_run=True)
    cycle.run()
    emitted = set(cycle.metric_set.names())
    assert "guestagent_icmp_loss_ratio" in emitted
    missing = emitted - documented()
    assert not missing, "not in docs/metric-names.md: {}".format(sorted(missing))
