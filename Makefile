# make bundle: the offline Guest Shell bundle, dist/guestagent-<version>-guestshell.tar.gz
# (docs/deploy.md). Needs PyPI, or WHEELS=DIR holding the dependency wheels already.
PYTHON ?= .venv/bin/python
WHEELS ?=

.PHONY: bundle
bundle:
	$(PYTHON) -m guestagent bundle $(if $(WHEELS),--wheels-from $(WHEELS))
