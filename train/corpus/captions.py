"""Captions: expand a rule's caption spec into a main caption and a few paraphrases."""

from __future__ import annotations

import re

# Used when a rule gives no caption of its own (tuxpaint stamps): `{name}` is the stamp's noun phrase.
CATEGORY_TEMPLATES = {
    "dog": "{name} barking|the bark of {name}|{name} barks nearby",
    "cat": "{name} meowing|the meow of {name}|{name} makes a sound",
    "bird": "{name} calling|the call of {name}|{name} chirping outdoors",
    "chicken": "{name} clucking|the call of {name}|{name} clucks",
    "cow": "{name} mooing|the low of {name}|{name} moos",
    "sheep": "{name} bleating|the bleat of {name}|{name} bleats",
    "horse": "{name} neighing|the whinny of {name}|{name} snorts and neighs",
    "pig": "{name} grunting|the oink of {name}|{name} squeals and grunts",
    "insect": "{name} buzzing|the buzz of {name}|{name} buzzes close by",
    "frog": "{name} croaking|the croak of {name}|{name} croaks by a pond",
    "wild animal": "{name} calling|the cry of {name}|the sound of {name}",
    "musical instrument": "{name} playing|a few notes on {name}|the sound of {name}",
}
GENERIC_TEMPLATE = "the sound of {name}|{name} making a noise|{name}"

_SPACES = re.compile(r"\s+")


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym ('TNT', 'OK')."""
    first = text.split(" ", 1)[0]
    if not text or (len(first) > 1 and first.isupper()):
        return text
    return text[0].lower() + text[1:]


def noun_phrase(text: str) -> str:
    """Turn a label such as 'A dog.' or 'Vacuum cleaner' into 'a dog' / 'a vacuum cleaner'."""
    text = _SPACES.sub(" ", text.replace("_", " ")).strip().rstrip(".!").strip()
    if not text:
        return ""
    lowered = _lower_first(text)
    if re.match(r"^(a|an|the|some|two|three|many)\b", lowered, re.I):
        return lowered
    article = "an" if lowered[0].lower() in "aeiou" else "a"
    return f"{article} {lowered}"


def clean(caption: str) -> str:
    """Normalise one caption: single spaces, no trailing full stop, first letter lower-cased."""
    return _lower_first(_SPACES.sub(" ", caption).strip().rstrip(".").strip())


def expand(spec: str | None, category: str, fields: dict[str, str] | None = None) -> list[str]:
    """Captions for a clip: the spec's alternatives ('a|b|c') with {fields} filled, main caption first.

    With no spec the category's template is used, so a `name` field must then be given.
    """
    fields = {k: v for k, v in (fields or {}).items() if v}
    if spec is None:
        spec = CATEGORY_TEMPLATES.get(category, GENERIC_TEMPLATE)
    out: list[str] = []
    for alternative in spec.split("|"):
        try:
            text = clean(alternative.format(**fields))
        except (KeyError, IndexError):
            continue  # an alternative that needs a field this clip lacks
        if text and text not in out:
            out.append(text)
    if not out:
        raise ValueError(f"caption spec {spec!r} gives no caption for fields {fields}")
    return out


def surface(word: str) -> str:
    """Readable surface names used in footstep captions ('hard' -> 'stone')."""
    return {"hard": "stone", "rock": "rock", "dirt": "dirt", "ice": "ice", "metal": "metal",
            "glass": "glass"}.get(word.lower(), word.lower())
