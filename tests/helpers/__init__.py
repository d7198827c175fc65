"""Helpers the tests share: fixtures, builders of real keys and documents, and the pytest
plugins of this suite. Test modules import from here, never from each other or conftest."""
