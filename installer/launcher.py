"""The bundled app's entry script: `mailroom` exactly as the console script runs it.

PyInstaller freezes this file as the program's __main__. It holds no logic of its own,
so the bundle behaves like the pip-installed `mailroom` (same arguments, same exit
codes, same data folder); anything the app does belongs in mailroom.cli.
"""

import multiprocessing
import sys

from mailroom.cli import main

if __name__ == "__main__":
    # A frozen program started by multiprocessing's "spawn" must become the child here,
    # not parse the child's arguments as a `mailroom` command line. mailroom.fetch keeps
    # its parser in-process when frozen; this keeps any other spawn safe too.
    multiprocessing.freeze_support()
    sys.exit(main())
