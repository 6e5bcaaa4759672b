"""Ban on publication in lists (e.g. mailing labels): set at once, then confirmed.

``dsrbot export list --purpose publication`` (``iter_mailing_list(session, "publication")``)
leaves the person out from then on.
"""

from __future__ import annotations

from handlers.rights.flags import FlagHandler


class PublicationBanHandler(FlagHandler):
    right = "publication_ban"
    flag = "publication_ban"
    letter = "publication_ban"
