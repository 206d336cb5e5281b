"""Mailbox logging: each user's mailbox (IMAP) fetched incrementally by the worker; messages
to or from a contact, a lead or an account's domain are logged on that record, once."""
