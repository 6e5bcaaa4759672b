"""``python -m bot.cli`` runs the same command as the ``dsrbot`` script."""

from bot.cli import main

main()
