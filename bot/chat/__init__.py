"""The staff chat: Telegram (``telegram_app``), what it shows (``render``), who may act
(``staff``), and how case changes reach it (``notifier`` over :mod:`storage.chat_outbox`)."""
