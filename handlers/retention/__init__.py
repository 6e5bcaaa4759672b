"""dsrbot's own records, kept no longer than they must be (GDPR Art. 5(1)(c) and (e)).

``sweep``: the daily purge by ``retention.*``; ``erasure_copies``: an erasure reaches our own
copies; ``holdings``: what an access report says about our records of the requester.
"""

from handlers.retention.erasure_copies import (
    DATA_LETTER_KINDS,
    forget_delivered_addresses,
    purge_customer_copies,
)
from handlers.retention.sweep import (
    KINDS,
    Batch,
    Cutoffs,
    delete_expired_cases,
    due_counts,
    purge_forwards,
    purge_other_mail,
    purge_report_attachments,
)

__all__ = [
    "DATA_LETTER_KINDS",
    "KINDS",
    "Batch",
    "Cutoffs",
    "delete_expired_cases",
    "due_counts",
    "forget_delivered_addresses",
    "purge_customer_copies",
    "purge_forwards",
    "purge_other_mail",
    "purge_report_attachments",
]
