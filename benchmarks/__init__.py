"""Reproducible performance runs of Mailroom against getmail6, fetchmail and a raw
poplib floor, on a private Dovecot over POP3S: `python -m benchmarks --help`.

Not part of the test suite and not installed with Mailroom; see benchmarks/README.md.
"""
