"""``python -m flockrl``: the same as the ``flockrl`` command."""

import sys

from flockrl.cli import main

sys.exit(main())
