"""The tray icon and desktop notifications: a face of Mailroom, like web/ (see tray/README.md)."""
