"""Settings as data: one table of field definitions (`fields`) from which the
settings file, its validation, the CLI and the web form all derive; `document`
validates and converts a settings document; `repo` reads and writes it in the store.
"""
