"""Chatter: messages that acknowledge, thank or greet and ask for nothing.

"спасибо, всё работает", "ok thanks", "👍", "ок", "понял, спасибо", "+", "good morning",
and pings of the bot itself: "you there?", "are you a bot?", "ты тут?", "есть кто живой?".
One detector for the whole bot: the matcher suggests no article for chatter, and
conversation routing acknowledges it outside a ticket (nothing filed) and adds it to the
ticket quietly inside a ticket's thread.

A message is chatter when it has no letters or digits at all (emoji, "+", "!!!"), or
when it is short and every word is an acknowledgement / thanks / greeting word. Any other
word makes it a request: "спасибо, но не работает vpn" has "но", "не" and "vpn"; a
negation is never chatter ("всё работает" is, "не работает" is not).
"""

from __future__ import annotations

import re

__all__ = ["CHATTER_WORDS", "CORE_WORDS", "FILLER_WORDS", "MAX_CHATTER_WORDS", "is_chatter"]

_WORDS = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)

# Longer messages are requests even if they are polite throughout.
MAX_CHATTER_WORDS = 8

# Words a pure acknowledgement is made of (ё folded to е). Not here on purpose: negations
# ("не", "not", "no"), "но"/"but", question words, and any topic word.
CORE_WORDS = frozenset(
    """
    спасибо спс спасиб пасиб сенкс благодарю благодарим благодарствую
    ок окей ладно хорошо понял поняла поняли понятно ясно отлично супер класс круто
    принято договорились ага угу пон да
    привет приветик здравствуйте здравствуй здрасте добрый доброе доброго
    норм нормально работает заработало заработал заработала получилось помогло
    решено решилось
    ok okay k kk thanks thank thankyou thx ty tysm cheers great cool fine perfect
    nice good awesome understood noted sure yes yep yeah alright
    hi hello hey morning afternoon evening works working worked solved fixed sorted helped
    пока свидания связи bye goodbye cya бот робот тут здесь алло ау живой живые bot robot there anyone anybody someone somebody
    """.replace("ё", "е").split()
)
# Words that may go with them ("спасибо за помощь", "thank you so much", "hello there")
# but alone are no acknowledgement ("help", "all").
FILLER_WORDS = frozenset(
    """
    большое огромное преогромное вам тебе всем за помощь оперативно быстро
    день утро вечер дня утра вечера хорошего всего все
    теперь уже сейчас снова опять вроде бы
    you got it there day all lot much very so now again that did trick for the help your
    right
    ты вы есть кто ли до встречи ну
    are is a an u r
    """.replace("ё", "е").split()
)
CHATTER_WORDS = CORE_WORDS | FILLER_WORDS


def is_chatter(text: str) -> bool:
    """True for a message that only thanks, acknowledges or greets (or has no words)."""
    folded = text.lower().replace("ё", "е")
    words = _WORDS.findall(folded)
    if not words:
        stripped = "".join(ch for ch in text if not ch.isspace())
        # Only punctuation or emoji ("👍", "+", "!!!"): an acknowledgement, not a request.
        return bool(stripped)
    if len(words) > MAX_CHATTER_WORDS:
        return False
    return all(w in CHATTER_WORDS for w in words) and any(w in CORE_WORDS for w in words)
