"""What the inbound pipeline's stages share: one message's :class:`Work`, the run's
:class:`Context` and the :class:`Stop` a stage returns (the stages are ``handlers/intake.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from handlers.identity import IdentityAssessment
from handlers.parse import ParsedMessage
from handlers.policy import IntakePolicy, OrgInfo
from handlers.signatures import SignatureResult
from nlp_models import Classification
from storage.candidates import CandidateKeys
from storage.models import InboundMessage, InboundState


@dataclass(frozen=True)
class Stop:
    state: InboundState


@dataclass(frozen=True)
class Context:
    policy: IntakePolicy
    now: datetime

    @property
    def org(self) -> OrgInfo:
        return self.policy.org


@dataclass
class Work:
    """Everything the stages learn about one inbound message."""

    inbound_id: int
    raw: bytes
    channel: str
    envelope_from: str
    received_at: datetime
    parsed: ParsedMessage | None = None
    classification: Classification | None = None
    assessment: IdentityAssessment | None = None
    signature: SignatureResult | None = None
    #: SHA-256 of the signature that binds this request (recorded when it verifies a case).
    signature_fingerprint: str = ""
    case_id: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: Set by the outcome steps: the id of our canary probe / of our letter this bounce returns.
    probe_id: int | None = None
    bounce_of: int | None = None
    #: What the identify stage looks up in the register, once found (see
    #: ``intake.remember_register``: the batch finds them before its stages run).
    candidate_keys: CandidateKeys | None = None

    @classmethod
    def from_row(cls, row: InboundMessage) -> Work:
        assert row.id is not None
        return cls(inbound_id=row.id, raw=row.raw, channel=row.channel,
                   envelope_from=row.envelope_from, received_at=row.received_at,
                   reasons=list(row.reasons))

    @property
    def message(self) -> ParsedMessage:
        assert self.parsed is not None, "parse stage has not run"
        return self.parsed

    @property
    def result(self) -> Classification:
        assert self.classification is not None, "classify stage has not run"
        return self.classification
