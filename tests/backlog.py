"""A backlog mbox of requests and ordinary customer mail, for kill tests and benchmarks."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path


def build_mbox(path: Path, requests: int, others: int, *, tag: str = "kill") -> Path:
    """``requests`` marketing opt-outs from distinct senders, then ``others`` order questions."""
    box = mailbox.mbox(str(path))
    for n in range(requests + others):
        msg = EmailMessage()
        msg["From"] = f"Asiakas {n} <asiakas{n}@example.fi>"
        msg["To"] = "info@rusttet.fi"
        msg["Message-ID"] = f"<{tag}-{n}@example.fi>"
        msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0200"
        if n < requests:
            msg["Subject"] = "Markkinointikielto"
            msg.set_content(f"Hei, en halua enää mainoksia enkä puhelinmyyntiä. Terveisin {n}")
        else:
            msg["Subject"] = f"Tilaus {5000000 + n}"
            msg.set_content(f"Hei, milloin tilaukseni {5000000 + n} toimitetaan?")
        box.add(msg)
    box.flush()
    box.close()
    return path
