"""Who is asking: register match, sender authentication, look-alikes, and the one rule above all.

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
