"""mbox reader benchmark (issue 14): reading only, no database.

Measures, on one generated mbox (the same mails as ``bench_ingest.py``, with a quoted ``>From ``
body line in every tenth mail and a Content-Length header in every fifth), the standard
library's ``mailbox.mbox`` iteration against :func:`bot.mail.mbox_reader.read_mbox` (separator
check with a date, unquoting, Content-Length, split check), and the worst case for the
separator check: one 1 MB body made of ``From `` lines without a date.

Run: ``python benchmarks/bench_mbox_reader.py [--messages N]``.
"""

from __future__ import annotations

import argparse
import mailbox
import random
import tempfile
import time
from pathlib import Path

from benchmarks.bench_ingest import _mail
from bot.mail.mbox_reader import read_mbox


def build(path: Path, messages: int) -> None:
    rnd = random.Random(7)
    with path.open("wb") as out:
        for n in range(messages):
            raw = _mail(n, rnd).replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n"
            if n % 10 == 0:
                raw += b"\n>From the archive, quoted.\n"
            if n % 5 == 0:
                head, _, body = raw.partition(b"\n\n")
                raw = head + b"\nContent-Length: %d\n\n" % len(body) + body
            out.write(b"From asiakas@example.fi Tue Nov 24 10:00:00 2026\n" + raw + b"\n")


def timed(label: str, fn: object, size: int) -> None:
    start = time.perf_counter()
    count = fn()  # type: ignore[operator]
    took = time.perf_counter() - start
    print(f"{label}: {count:,} messages in {took:.2f} s = {size / took / 1e6:.1f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.mbox"
        build(path, args.messages)
        size = path.stat().st_size
        print(f"mbox: {args.messages:,} mails, {size / 1e6:.1f} MB")
        box = mailbox.mbox(str(path), create=False)
        timed("stdlib mailbox.mbox (bytes of each)", lambda: sum(
            1 for key in box.iterkeys() if box.get_bytes(key)), size)
        timed("read_mbox (mboxrd)", lambda: sum(1 for _ in read_mbox(path)), size)
        hostile = Path(tmp) / "h.mbox"
        body = b"\n".join(b"From maija@example.fi no date here" for _ in range(30_000))
        hostile.write_bytes(b"From a@b.fi Tue Nov 24 10:00:00 2026\nSubject: x\n\n"
                            + body + b"\n")
        timed("read_mbox, 1 MB of undated From lines", lambda: sum(
            1 for _ in read_mbox(hostile)), hostile.stat().st_size)


if __name__ == "__main__":
    main()
