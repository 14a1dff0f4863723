"""``python -m pktspec`` is the ``pktspec`` command."""

import sys

from pktspec.cli import main

sys.exit(main())
