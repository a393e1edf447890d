"""Network-facing mail code: POP3, SMTP, TLS and the message parser."""
