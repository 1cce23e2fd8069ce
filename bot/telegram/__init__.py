"""The Telegram frontend (aiogram 3).

Receiving reads as a translation table, one module per concern:

    private.py     a person's private chat  → Incoming (text, commands, files, edits, forwards, unsupported)
    groups.py      team groups              → Incoming for commands and ticket threads only
    buttons.py     callback queries         → Incoming(action, alert=True), always answered
    membership.py  my_chat_member           → Incoming(signal="blocked" / "unblocked")
    translate.py   the field-by-field rules those share (ids, topics, replies, attachments)
    routers.py     the Dispatcher: the routers above and the event key middleware
    handoff.py     the one place an Incoming is handed to the engine

Receivers confirm an update to Telegram only after the engine committed it:
``polling.py`` (getUpdates offset) and ``webhook.py`` (the HTTP answer). ``frontend.py``
wires it together for ``deskbot run``; ``render.py``, ``sender.py`` and ``callbacks.py``
are the sending side.
"""
