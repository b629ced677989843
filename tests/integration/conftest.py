"""Tests against a real Asterisk (see ``tests/support/asterisk.py``).

The ``asterisk`` fixture (session scope) lives in ``tests/conftest.py``, shared with the
fault suite (``tests/faults``). Mark tests that use it with ``@pytest.mark.asterisk``.
"""
