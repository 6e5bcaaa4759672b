"""Settings -> the domain's policy values (``handlers.policy``), built once at start-up.

Why a translation step: ``handlers/`` must not import ``bot/``, so the domain is given plain
frozen values instead of the pydantic settings. This is the only place that knows both shapes.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.settings import Settings
from handlers.policy import (
    ForwardPolicy,
    HealthPolicy,
    IdentityPolicy,
    IntakePolicy,
    OrgInfo,
    RecordRetention,
    RightsPolicy,
)
from handlers.reminders import ReminderPolicy


def org_info(settings: Settings) -> OrgInfo:
    return OrgInfo(
        name=settings.organisation.name,
        register_name=settings.organisation.register_name,
        contact_email=settings.mail.outgoing.from_address,
        retention_years=settings.retention.years_after_relationship_end,
        timezone=ZoneInfo(settings.organisation.timezone),
        records=record_retention(settings),
    )


def record_retention(settings: Settings) -> RecordRetention:
    r = settings.retention
    return RecordRetention(other_mail_days=r.other_mail_days,
                           report_attachments_days=r.report_attachments_days,
                           case_years=r.case_years,
                           timezone=settings.organisation.timezone)


def identity_policy(settings: Settings) -> IdentityPolicy:
    identity = settings.identity
    return IdentityPolicy(
        trusted_authserv_ids=tuple(identity.trusted_authserv_ids),
        receiver_authserv_id=settings.mail.receiver.authserv_id,
        challenge_ttl_hours=identity.challenge_ttl_hours,
        challenge_max_attempts=identity.challenge_max_attempts,
        signature_max_age_days=identity.signature_max_age_days,
        trusted_certificates=tuple(identity.trusted_certificates),
        trusted_openpgp_keys=tuple(identity.trusted_openpgp_keys),
        base_dir=settings.base_dir,
    )


def rights_policy(settings: Settings) -> RightsPolicy:
    return RightsPolicy(require_signature=frozenset(settings.rights.require_signature))


def signature_warning(settings: Settings) -> str | None:
    """The operator's warning when ``rights.require_signature`` demands signatures."""
    types = settings.rights.require_signature
    if not types:
        return None
    return (f"rights.require_signature demands a signature for {', '.join(types)}: the Finnish "
            "Data Protection Ombudsman's sanctions board held such a demand excessive "
            "(TSV 6097/161/21, Otavamedia Oy, 9 May 2022, EUR 85,000); a verified identity is "
            "enough unless you have a signature to compare with")


def intake_policy(settings: Settings) -> IntakePolicy:
    return IntakePolicy(
        org=org_info(settings),
        identity=identity_policy(settings),
        org_addresses=tuple(settings.organisation.addresses),
        rate_limit_per_sender=settings.mail.rate_limit_per_sender,
        rate_limit_window_minutes=settings.mail.rate_limit_window_minutes,
        auto_approve=tuple(settings.approval.auto_approve),
        forward=ForwardPolicy(to=settings.mail.receiver.forward_other_to,
                              robots=settings.mail.receiver.forward_robots),
        rights=rights_policy(settings),
    )


def reminder_policy(settings: Settings) -> ReminderPolicy:
    s = settings.scheduler
    return ReminderPolicy(
        offsets=tuple(s.reminder_offsets_working_days),
        extension_warning_working_days=s.extension_warning_working_days,
        overdue_escalation=s.overdue_escalation,
        challenge_reminder_before=timedelta(hours=s.challenge_reminder_hours_before_expiry),
        tz=settings.organisation.timezone,
    )


def canary_runs(settings: Settings) -> bool:
    """A probe can make the round trip only through a real outgoing relay and a way back in
    (the IMAP watcher or our receiver); the local maildir backend sends nothing anywhere."""
    mail = settings.mail
    return (settings.health.canary_interval_minutes > 0 and mail.outgoing.backend == "smtp"
            and (mail.imap.enabled or mail.receiver.enabled))


def health_policy(settings: Settings) -> HealthPolicy:
    h = settings.health
    return HealthPolicy(
        org=org_info(settings),
        canary_interval=(timedelta(minutes=h.canary_interval_minutes)
                         if canary_runs(settings) else None),
        canary_alert=timedelta(minutes=h.canary_alert_minutes),
        silence_hours=h.silence_alert_hours,
        alert_to=h.alert_to,
        probe_to=settings.organisation.addresses[0],
    )
