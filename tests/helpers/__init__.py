"""Helpers every test directory shares (imported as ``helpers.<module>``: ``tests/`` is on the
import path through the root ``conftest.py``).

- :mod:`helpers.wait`: wait on a condition with a timeout (never a fixed sleep before an assert);
- :mod:`helpers.clock`: a settable clock;
- :mod:`helpers.evidence`: an in-memory evidence sink;
- :mod:`helpers.pg`: a throwaway PostgreSQL database;
- :mod:`helpers.numbers`: fresh test phone numbers.
"""
