"""Markers: ``slow`` tests start servers or subprocesses, train, or run whole recipes. ``pytest -m "not slow"``
is the quick loop (under a minute on 2 cores); ``make test`` / CI run everything."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts processes, trains or runs recipes; skipped by -m 'not slow'")
