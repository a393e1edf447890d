"""`python -m mailroom` is the `mailroom` command."""

import sys

from mailroom.cli import main

sys.exit(main())
