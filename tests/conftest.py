"""Shared test setup."""

import os
import signal

import pytest

# A CI job started in the background of a non-interactive shell inherits
# SIGINT ignored (POSIX), and Python then never raises KeyboardInterrupt.
# The Ctrl-C tests need it delivered, here and in the subprocesses they
# start: exec resets a handled signal to its default, but keeps an ignored
# one ignored.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster of 2 CPUs for the whole session (starting one
    takes seconds), on loopback only; yields the ray module."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a loopback-only node
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, object_store_memory=256 * 2**20)
    try:
        yield ray
    finally:
        ray.shutdown()
