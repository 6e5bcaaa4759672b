"""Files through the Bot API: where it serves them, and the letter attached to a manual request.

Why checked before the download: the Bot API serves at most 20 MB, and only a PDF or a photo
can be a signed letter, so anything else is refused with a reason staff can act on.
"""

from __future__ import annotations

from telegram import Message

from bot.chat.manual_intake import IntakeError, IntakeFile, accepted

MAX_FILE_BYTES = 20 * 1024 * 1024  # the Bot API's download limit


def file_base_url(base_url: str) -> str:
    """``http://host/bot`` -> ``http://host/file/bot`` (how the Bot API serves files)."""
    head, sep, _ = base_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else base_url.rstrip("/") + "/file/bot"


async def download_attachments(message: Message) -> list[IntakeFile]:
    """The photo (largest size) or document of a manual request, checked before download."""
    if message.photo:
        photo = message.photo[-1]  # the largest size
        data = await (await photo.get_file()).download_as_bytearray()
        return [IntakeFile("letter.jpg", "image/jpeg", bytes(data))]
    document = message.document
    if document is None:
        return []
    content_type = document.mime_type or "application/octet-stream"
    if not accepted(content_type):
        raise IntakeError("please send the letter as a PDF or a photo")
    if document.file_size and document.file_size > MAX_FILE_BYTES:
        raise IntakeError("the file is larger than 20 MB; please send a smaller scan")
    data = await (await document.get_file()).download_as_bytearray()
    return [IntakeFile(document.file_name or "letter", content_type, bytes(data))]
