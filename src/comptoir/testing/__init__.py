"""Test support shared by every test suite: personas, factories, an API client.

* ``comptoir.testing.factories``: plain functions creating valid records through the domain
  services (so audit, events and territory rules apply as in production).
* ``comptoir.testing.personas``: the named users of access tests (owner, teammate, manager,
  outsider, admin, plus data manager, marketing and service) and the records they own.
* ``comptoir.testing.api``: a ``django.test.Client`` speaking JSON with a bearer token.
* ``comptoir.testing.pytest_plugin``: the throwaway data directory and the strict-skip flag.

Import the submodules directly; this package imports nothing, so the pytest plugin can load
before Django is configured.
"""
