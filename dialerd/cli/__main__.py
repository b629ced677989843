"""``python -m dialerd.cli``: the same as the ``dialerd`` command."""

import sys

from dialerd.cli.main import main

sys.exit(main())
