"""Mail channels: the SMTP/LMTP receiver, the IMAP watcher and the file backlog importer.

Each stores the raw message in the durable inbox (:mod:`storage.inbox`) and commits before it
acknowledges anything (``250``, an IMAP move, a progress tick); the pipeline does the rest.
"""
