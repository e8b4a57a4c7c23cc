"""Messages to customers: the relay from the event ledger to e-mail (``relay``), what each
message says (``content``, ``render`` and the templates), how it leaves (``mailer``), the
signed links in it (``links``), delivery reminders (``reminders``) and "notify me" alerts."""
