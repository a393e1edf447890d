"""Mailroom: files client email, opens tasks and sends auto-replies.

The core package. It holds no GUI toolkit and no web framework: `tray/` and `web/`
sit on top of it and talk to it through plain functions and objects.
"""

__version__ = "0.1.0"
