"""Text normalisation for KB matching: case, ``ё``, tokens, stems, layout and transliteration.

Everything here is pure and deterministic. The matcher turns both article text and user
queries into *terms* with :func:`terms`; a term is a Snowball stem of a lower-cased,
``ё``-folded word (Russian stemmer for Cyrillic words, English stemmer for Latin ones).

Query words the KB does not know are also tried as typed in the wrong keyboard layout
(:func:`switch_layout`: ``ghbynth`` → ``принтер``) and as transliterated
(:func:`transliterate`: ``впн`` → ``vpn``, ``parol`` → ``пароль``); the matcher decides
which variant to keep by looking it up in the KB vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

__all__ = [
    "STOPWORDS",
    "WEAK_FACTOR",
    "WEAK_STEMS",
    "WEAK_WORDS",
    "GENERIC_WORDS",
    "is_generic",
    "is_weak",
    "fold",
    "is_cyrillic",
    "is_latin",
    "script_of",
    "stem",
    "switch_layout",
    "terms",
    "tokenize",
    "is_translit_function_word",
    "is_translit_stopword",
    "transliterate",
    "transliterations",
    "word_chunks",
    "WORD_PREFIXES",
    "without_prefix",
]

# Russian ЙЦУКЕН and English QWERTY share physical keys; these strings line up key by key.
_EN_KEYS = "`qwertyuiop[]asdfghjkl;'zxcvbnm,./"
_RU_KEYS = "ёйцукенгшщзхъфывапролджэячсмитьбю."
_EN_TO_RU = dict(zip(_EN_KEYS, _RU_KEYS, strict=True))
_RU_TO_EN = {ru: en for en, ru in _EN_TO_RU.items() if ru != "."}
_EN_TO_RU.pop("/")  # "/" -> "." is ambiguous and never part of a word

# Latin letters (plus the keys that stand for Russian letters) typed as one chunk.
_LATIN_LAYOUT_CHUNK = re.compile(r"^[a-z`\[\];',.]+$")
_CYRILLIC_CHUNK = re.compile(r"^[а-яё]+$")

_TOKEN = re.compile(r"[0-9a-zа-я]+(?:[-'’][0-9a-zа-я]+)*")

# Transliteration, Cyrillic → Latin (a simple, readable scheme close to how people type).
_RU_TO_LAT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
}
# Latin → Cyrillic: longest digraphs first.
_LAT_TO_RU_PAIRS = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("yo", "е"),
    ("jo", "е"),
    ("ye", "е"),
    ("a", "а"),
    ("b", "б"),
    ("c", "к"),
    ("d", "д"),
    ("e", "е"),
    ("f", "ф"),
    ("g", "г"),
    ("h", "х"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("q", "к"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("v", "в"),
    ("w", "в"),
    ("x", "кс"),
    ("y", "ы"),
    ("z", "з"),
]
_LAT_TO_RU_RE = re.compile("|".join(re.escape(k) for k, _ in _LAT_TO_RU_PAIRS))
_LAT_TO_RU = dict(_LAT_TO_RU_PAIRS)

# Function words that carry no topic. Question words and negations ("why", "not",
# "почему", "не") are deliberately kept: "why was my card declined" and "card declined"
# are different requests; they weigh little anyway because most articles contain them.
STOPWORDS: frozenset[str] = frozenset(
    """
    a an the and or but if of at by for with about into onto from to in on as than then so
    i me my myself we our ours us you your yours he him his she her it its they them their
    this that these those am is are was were be been being have has had having do does did
    doing will would shall should can could may might must just also too very really
    please pls plz hi hello hey thanks thank thx ok okay guys anyone someone u ur
    и в во на с со к ко у о об от до из за по при для про под над а но же ли бы то это
    этот эта эти тот та те я мне меня мой моя мое мои моего моей моих мою моему мы нас нам
    наш наша наши ты тебя тебе твой вы вас вам ваш ваша ваши он она оно они его ее их ему
    ей им ними был была было были быть есть буду будет же ведь вот ну уже еще тоже также
    привет здравствуйте добрый день спасибо пожалуйста подскажите скажите помогите ребята
    коллеги всем
    этого этой этому этим этими этом этих того той тому теми том тех
    него нее ней нему ним ними нем них мной мною тобой тобою
    моё моем моим моими нашего нашей нашем нашим нашу нашими нашего вашего вашей вашем вашим
    вашу вашими твоя твое твою твоего твоей свой своя свое своё свои своего своей своих свою
    своим своими себя себе собой
    чего чему кого кому кем ком чтобы который которая которое которые которого которой
    которому котором которых такой такая такое такие такого такую
    while because though although whether either neither soon during between among within
    once ever even here there
    """.split()
)

# Words that matter for telling close requests apart ("why was my card declined") but
# say little about the topic: they keep only WEAK_FACTOR of their weight. Pure numbers too.
WEAK_WORDS: frozenset[str] = frozenset(
    """
    what why how when where which who whom whose not no nor
    что почему как когда где какой какая какое какие зачем сколько кто чем не нет ни
    """.split()
)
WEAK_FACTOR = 0.3

# Words that are in half of all requests whatever their topic: "не работает", "doesn't
# work", "не могу работать", "won't turn on", "keeps freezing", "у всех в отделе". They
# still count for ranking, but not as the query's *information*: an article must match
# something else in the query to be suggested (see ``kb.index.Index.specific_coverage``),
# so "не запускается excel" does not get the VPN article for "не работает ... запускается".
GENERIC_WORDS: frozenset[str] = frozenset(
    """
    work works working worked broken broke break problem problems issue issues trouble help
    need needs want can cannot able unable keep keeps kept start starts started stop stops
    stopped open opens opening run runs running launch launches load loads loading turn turns
    freeze freezes freezing frozen hang hangs hanging stuck slow crash crashes crashing
    crashed error errors fail fails failed failing down dead anything everything nothing
    something everyone everybody all whole team department today morning again still
    always suddenly anymore properly right get got any some
    nobody noone anybody anyone someone somebody urgent urgently asap quickly immediately
    работает работают работать работа работу работе работал работала работало работали
    заработал не могу может можно сломался сломалась сломалось сломан проблема проблемы
    проблему помощь нужно надо нужен нужна хочу хотел запускается запустить запускаю
    открывается открыть открываю включается включить грузится загружается висит зависает
    тупит тормозит глючит вылетает падает перестал перестала перестало пропал пропала
    ошибка ошибку ошибки пишет выдает все всё всех весь вся ничего никак нечего вообще совсем
    отдел отделе команда команды сегодня утра утром опять снова постоянно почему-то
    никто никого никому ктото когото срочно срочная срочный срочное побыстрее скорее
    хотим хотели хотела хочется хотелось хотят
    """.replace("ё", "е").split()
)
GENERIC_STEMS: frozenset[str] = frozenset()  # filled below, once stem() exists


def is_generic(token: str) -> bool:
    """True for words that say nothing about the topic (``GENERIC_WORDS``, by stem)."""
    return token in GENERIC_WORDS or stem(token) in GENERIC_STEMS


def is_weak(token: str) -> bool:
    """True for question words, negations and bare numbers (see ``WEAK_WORDS``)."""
    return token in WEAK_WORDS or token.isdigit()


# Contractions expanded before tokenising, so "hasn't" keeps its negation as "not".
_CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'(?:m|re|ve|ll|d|s)\b"), ""),
]
# The negations typed without the apostrophe, as chat often is ("cant log in", "wont sync").
_BARE_NEGATIONS = re.compile(
    r"\b(?:(ca)nt|(wo)nt|(do|does|did|is|are|was|were|has|have|had|could|would|should)nt)\b"
)


def _bare_negation(m: re.Match[str]) -> str:
    if m.group(1):
        return "can not"
    if m.group(2):
        return "will not"
    return f"{m.group(3)} not"


def fold(text: str) -> str:
    """Lower-case, fold ``ё`` to ``е``, drop accents and unify apostrophes and dashes."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("ё", "е").replace("’", "'").replace("‘", "'")
    text = text.replace("‐", "-").replace("‑", "-").replace("–", "-").replace("—", "-")
    # Strip combining accents (e.g. a stressed "а́") but keep "й".
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn" or c == "\u0306")
    text = unicodedata.normalize("NFC", stripped)
    if "'" in text:
        for pattern, repl in _CONTRACTIONS:
            text = pattern.sub(repl, text)
    if "nt" in text:
        text = _BARE_NEGATIONS.sub(_bare_negation, text)
    return text


def word_chunks(text: str) -> list[str]:
    """Split folded text on whitespace, keeping punctuation that may be a mistyped letter."""
    return fold(text).split()


def tokenize(text: str) -> list[str]:
    """Split text into folded word tokens.

    A hyphenated word yields its parts and the joined form (``wi-fi`` → ``wi``, ``fi``,
    ``wifi``), so ``wifi``, ``wi-fi`` and ``wi fi`` all meet.
    """
    tokens = []
    for match in _TOKEN.finditer(fold(text)):
        token = match.group(0).replace("'", "")
        if "-" in token:
            parts = [p for p in token.split("-") if p]
            tokens.extend(parts)
            token = "".join(parts)
        if token:
            tokens.append(token)
    return tokens


def is_cyrillic(word: str) -> bool:
    """True if the word contains at least one Cyrillic letter."""
    return any("а" <= c <= "я" or c == "ё" for c in word)


def is_latin(word: str) -> bool:
    """True if the word contains at least one Latin letter."""
    return any("a" <= c <= "z" for c in word)


def script_of(text: str) -> str | None:
    """``"ru"`` if Cyrillic letters dominate, ``"en"`` if Latin ones do, else ``None``."""
    folded = fold(text)
    cyr = sum(1 for c in folded if "а" <= c <= "я")
    lat = sum(1 for c in folded if "a" <= c <= "z")
    if cyr == lat == 0:
        return None
    return "ru" if cyr >= lat else "en"


_STEMMERS = {
    "ru": snowballstemmer.stemmer("russian"),
    "en": snowballstemmer.stemmer("english"),
}


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Snowball stem of one folded token (Russian rules for Cyrillic, English for Latin)."""
    if is_cyrillic(token):
        if is_latin(token):
            return token  # mixed script: leave as is, fuzzy matching may still find it
        return str(_STEMMERS["ru"].stemWord(token)).replace("ё", "е")
    if is_latin(token):
        return str(_STEMMERS["en"].stemWord(token))
    return token


GENERIC_STEMS = frozenset(stem(w) for w in GENERIC_WORDS)
# A typo repaired to one of WEAK_WORDS ("bot" -> "not") is as weak as that word.
WEAK_STEMS = frozenset(stem(w) for w in WEAK_WORDS)


# Word-formation prefixes of English and Russian ("underpaid", "переустановить",
# "недоплатили"): the same topic as the word without it, said with a prefix a KB's
# wording may not use (kb.index.Index reads such a word as the KB word it is built on).
WORD_PREFIXES: tuple[str, ...] = tuple(sorted((
    "under", "over", "mis", "re", "un", "pre", "dis", "de", "non", "out",
    "недо", "пере", "пре", "пред", "раз", "рас", "вы", "за", "по", "под", "при", "про",
    "от", "об", "обо", "на", "до", "вз", "вс", "из", "ис", "с", "со", "у",
), key=len, reverse=True))
_PREFIXES_BY_LETTER: dict[str, tuple[str, ...]] = {
    c: tuple(a for a in WORD_PREFIXES if a[0] == c) for c in {a[0] for a in WORD_PREFIXES}}


def without_prefix(word: str, min_rest: int) -> list[str]:
    """What is left of ``word`` after each word-formation prefix it starts with (longest
    prefix first), when at least ``min_rest`` letters are left: ``underpaid`` →
    ``["paid", "derpaid"]``."""
    return [word[len(p):] for p in _PREFIXES_BY_LETTER.get(word[:1], ())
            if word.startswith(p) and len(word) - len(p) >= min_rest]


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Normalised terms of a text: folded, tokenised, stop words removed, stemmed."""
    return [stem(token) for token in tokenize(text) if keep_stopwords or token not in STOPWORDS]


def switch_layout(chunk: str) -> str | None:
    """The chunk as it would read in the other keyboard layout, or ``None`` if not applicable.

    ``ghbynth`` → ``принтер``, ``gfhjkm`` → ``пароль``, ``щгедщщл`` → ``outlook``. Only
    chunks typed entirely in one layout are switched.
    """
    folded = fold(chunk)
    if _LATIN_LAYOUT_CHUNK.match(folded) and is_latin(folded):
        # Trailing sentence punctuation is more likely punctuation than a letter.
        body = folded.rstrip(".,")
        if not body:
            return None
        return "".join(_EN_TO_RU.get(c, c) for c in body)
    if _CYRILLIC_CHUNK.match(chunk.lower()):
        return "".join(_RU_TO_EN.get(c, c) for c in chunk.lower())
    return None


def transliterate(word: str) -> str | None:
    """Transliterate a folded word to the other script (``впн`` ↔ ``vpn``), or ``None``."""
    if is_cyrillic(word) and not is_latin(word):
        return "".join(_RU_TO_LAT.get(c, c) for c in word)
    if is_latin(word) and not is_cyrillic(word):
        return _latin_to_ru(word)
    return None


def _latin_to_ru(word: str) -> str:
    return _LAT_TO_RU_RE.sub(lambda m: _LAT_TO_RU[m.group(0)], word)


# A Latin "c" not in "ch": "к" in "crm" or "cartridge", but "ц" in the common way of typing
# "-ция" words ("kompensaciya", "licenziya", "operaciya").
_LATIN_C = re.compile(r"c(?!h)")


# How Russian endings are usually typed in Latin letters, which letter by letter read
# wrong: "bolnichniy" (-ний, not -ниы), "kakoy" (-кой), "otvalivaetsya" (-тся, not -ця),
# "kazhdye" (-дые, not -де). Each is marked with a private-use character, transliterated,
# and put back.
_ENDINGS = [
    (re.compile(r"(?<=[aeiou])y(?![aeiouy])"), "\ue000", "й"),
    (re.compile(r"tsy?a$"), "\ue001", "тся"),
    (re.compile(r"(?<=[bcdfghklmnprstvz])ye$"), "\ue002", "ые"),
]


def _latin_to_ru_endings(word: str) -> str | None:
    marked = word
    for pattern, mark, _ in _ENDINGS:
        marked = pattern.sub(mark, marked)
    if marked == word:
        return None
    out = _latin_to_ru(marked)
    for _, mark, letters in _ENDINGS:
        out = out.replace(mark, letters)
    return out


def transliterations(word: str) -> list[str]:
    """:func:`transliterate`, then for a Latin word the readings with its usual endings
    (``bolnichniy`` → ``болничний``) and with ``ц`` for a lone ``c`` (``kompensaciya`` →
    ``компенсакия``, ``компенсация``)."""
    first = transliterate(word)
    if first is None:
        return []
    out = [first]
    if is_latin(word):
        ending = _latin_to_ru_endings(word)
        if ending is not None:
            out.append(ending)
        if _LATIN_C.search(word):
            marked = _LATIN_C.sub("\0", word)
            out.append(_latin_to_ru(marked).replace("\0", "ц"))
    return unique(out)


def is_translit_function_word(token: str) -> bool:
    """A Latin token that reads as a Russian function word, negation or question word in
    Latin letters (``ne``, ``kak``, ``za``): Russian typed in Latin, not a layout slip
    (``ne`` in the Russian layout would be ``ту``)."""
    if not is_latin(token) or token in WEAK_WORDS or token in STOPWORDS:
        return False
    return any(t in STOPWORDS or t in WEAK_WORDS for t in transliterations(token))


def is_translit_stopword(token: str) -> bool:
    """A Latin token that is a Russian function word typed in Latin letters (``za``,
    ``dlya``, ``po``, ``ot``): no topic, like the word itself. Not for words that carry
    meaning as they are (``no`` is "но" in Latin letters, and an English negation)."""
    if not is_latin(token) or token in WEAK_WORDS or token in STOPWORDS:
        return False
    return any(t in STOPWORDS for t in transliterations(token))


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without duplicates."""
    return list(dict.fromkeys(items))
