"""Where a cycle's results go: the local journal (always) and the metric stores (when configured)."""
