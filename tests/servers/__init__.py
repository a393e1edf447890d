"""Real servers for the tests and the benchmarks: a throwaway CA, Dovecot, aiosmtpd, a Secret Service keyring."""
