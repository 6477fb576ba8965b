"""Shared test setup."""

import signal

# A CI job started in the background of a non-interactive shell inherits
# SIGINT ignored (POSIX), and Python then never raises KeyboardInterrupt.
# The Ctrl-C tests need it delivered, here and in the subprocesses they
# start: exec resets a handled signal to its default, but keeps an ignored
# one ignored.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
