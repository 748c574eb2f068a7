"""A person's full name from its parts, as the person's culture writes it (every adapter composes alike)."""

from __future__ import annotations

import re

# Hiragana, katakana, CJK unified ideographs (and extension A), compatibility ideographs.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def person_name(first: str | None, last: str | None) -> str | None:
    """Family name first and unspaced for a CJK name (黄海燕, as the ticket system writes Chinese names);
    otherwise given name, a space, family name. Either part alone is the name; neither is None."""
    if first and last:
        if _CJK.search(first) and _CJK.search(last):
            return f"{last}{first}"
        return f"{first} {last}"
    return first or last
