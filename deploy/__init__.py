"""The fleet's side as files for real components: `start` starts a design from them, `routers`
captures one real cycle's requests and replays them as many routers (bench/fleet.py and
tests/test_deploy.py use both)."""
