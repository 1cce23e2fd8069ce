"""Slack frontend (renderers first; the app itself comes in a later issue)."""
