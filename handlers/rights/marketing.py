"""Ban on direct marketing: set at once and without exception (the notice), then confirmed.

Covers direct advertising, distance selling, direct marketing and market or opinion research.
``storage.register.iter_mailing_list(session, "marketing")`` leaves the person out from then on.
"""

from __future__ import annotations

from handlers.rights.flags import FlagHandler


class MarketingOptOutHandler(FlagHandler):
    right = "marketing_optout"
    flag = "marketing_ban"
    letter = "marketing_optout"
