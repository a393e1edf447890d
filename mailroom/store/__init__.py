"""The store: one SQL database (SQLite in WAL mode by default, PostgreSQL by URL).

Only this package and the pipeline's shell talk SQL. Tables are in `schema`; the
engine, pragmas and automatic migrations in `db`.
"""
