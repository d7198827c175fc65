"""Helpers the tests share: fixtures, builders of real keys and documents, the one server
harness (:mod:`helpers.server`), and the pytest plugins of this suite. Test and bench
modules import from here, never from each other or conftest (tests/test_test_layout.py)."""
