"""``python -m rnnlab ...`` is the ``rnnlab`` command (torchrun launches it this way)."""

import sys

from rnnlab.cli import main

sys.exit(main())
