"""Telegram frontend (renderers first; the bot itself comes in a later issue)."""
