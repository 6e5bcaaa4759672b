"""Who is asking: register match, sender authentication, look-alikes, and the one rule above all.

The rule: personal data and register changes only for a verified requester. The only register
changes below "verified" are a marketing ban and a publication ban asked from exactly one
customer's registered address (``handlers.bans_at_once``): GDPR Art. 21(3) makes the marketing
objection unconditional, and both bans only reduce processing and reveal nothing, so the worst a
forger achieves is a ban the owner is told about at once and can undo.

One job per module: ``assessment`` (the levels and what an assessment holds), ``levels`` (the
assessment itself and the rule above all; read its docstring first), ``sender_auth`` (DKIM,
SPF, DMARC from trusted sources only) and ``candidates`` (register pointers in a mail's text,
for staff, never a match).
"""

from handlers.identity.assessment import (
    LEVELS,
    DnsTxt,
    IdentityAssessment,
    Level,
    MessageView,
    SenderAuth,
    SignatureView,
)
from handlers.identity.candidates import candidate_keys
from handlers.identity.levels import (
    assess_identity,
    case_assessment,
    mark_verified,
    may_change_register,
    may_send_personal_data,
)
from handlers.identity.sender_auth import authenticate_sender, verify_dkim
from storage.candidates import CandidateKeys

__all__ = [
    "LEVELS",
    "CandidateKeys",
    "DnsTxt",
    "IdentityAssessment",
    "Level",
    "MessageView",
    "SenderAuth",
    "SignatureView",
    "assess_identity",
    "authenticate_sender",
    "candidate_keys",
    "case_assessment",
    "mark_verified",
    "may_change_register",
    "may_send_personal_data",
    "verify_dkim",
]
