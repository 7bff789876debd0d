"""UK postcodes: parsing and normalising in one place.

A full postcode is an outward code (area + district, e.g. ``SK14``) and an inward code (sector
digit + unit, e.g. ``4DE``). Input may come in any case and with any spacing; the canonical form
is upper case with one space before the last three characters (``SK14 4DE``).
"""

import itertools
import re
from dataclasses import dataclass

# Shapes from the Royal Mail / BS 7666 rules: A9, A99, A9A, AA9, AA99, AA9A outward codes.
_OUTWARD = r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_FULL_RE = re.compile(rf"^(?:(?P<out>{_OUTWARD})(?P<in>{_INWARD})|(?P<gir>GIR0AA))$")
_OUTCODE_RE = re.compile(rf"^{_OUTWARD}$")

HOW_TO_FIX = (
    "Enter a full UK postcode, like SK14 4QH or EC1A 1BB, or the first half of one, like SK14."
)


class InvalidPostcode(ValueError):
    """The text is not shaped like a UK postcode; the message says what one looks like."""


@dataclass(frozen=True)
class ParsedPostcode:
    outcode: str  # "SK14"
    postcode: str | None = None  # "SK14 4DE", or None when only an outward code was given

    @property
    def sector(self) -> str | None:
        """``SK14 4`` for ``SK14 4DE``: the unit's last two letters dropped."""
        return self.postcode[:-2] if self.postcode else None

    @property
    def area(self) -> str:
        """The letters at the start: ``SK``."""
        return re.match(r"[A-Z]+", self.outcode).group(0)


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text or "").upper()


def normalise(text: str) -> str:
    """``sk144de`` -> ``SK14 4DE``; no check beyond length (use :func:`parse` to validate)."""
    squashed = compact(text)
    return f"{squashed[:-3]} {squashed[-3:]}" if len(squashed) > 3 else squashed


def parse(text: str, *, allow_outcode: bool = True) -> ParsedPostcode:
    """Validate and normalise a postcode (or, if allowed, an outward code alone)."""
    squashed = compact(text)
    if not squashed:
        raise InvalidPostcode(f"Enter a postcode. {HOW_TO_FIX}")
    if len(squashed) > 7 or not squashed.isalnum():
        raise InvalidPostcode(f"{text.strip()[:20]!r} is not a UK postcode. {HOW_TO_FIX}")
    match = _FULL_RE.match(squashed)
    if match:
        if match.group("gir"):
            return ParsedPostcode(outcode="GIR", postcode="GIR 0AA")
        return ParsedPostcode(outcode=match.group("out"), postcode=normalise(squashed))
    if allow_outcode and _OUTCODE_RE.match(squashed):
        return ParsedPostcode(outcode=squashed)
    raise InvalidPostcode(f"{text.strip()[:20]!r} is not a UK postcode. {HOW_TO_FIX}")


# Letters and digits people type for one another: O for 0 and I for 1, and back.
_LOOKALIKES = {"O": "0", "0": "O", "I": "1", "1": "I"}
# At most this many look-alike characters are tried (2**7 readings of a 7-character postcode).
_LOOKALIKES_MAX = 7


def readings(text: str, *, allow_outcode: bool = True) -> list[ParsedPostcode]:
    """Well-formed readings of a malformed postcode with O/0 and I/1 put right by position.

    "SKI4 4AD" can only be SK14 4AD (a letter cannot stand third in that shape); "WIA OAA" only
    W1A 0AA. "S01 OAA" reads two ways (S01 0AA, SO1 0AA): both are returned, for the caller to
    settle by which exist or to ask about; none is preferred for being closer to what was
    typed, since a wrong guess sends someone to the wrong services. Empty when the text is well
    formed already, or cannot be read as a postcode at all. Fewest changes first.
    """
    squashed = compact(text)
    if not squashed.isalnum() or len(squashed) > 7 or _FULL_RE.match(squashed):
        return []
    if allow_outcode and _OUTCODE_RE.match(squashed):
        return []
    spots = [i for i, char in enumerate(squashed) if char in _LOOKALIKES]
    if not spots or len(spots) > _LOOKALIKES_MAX:
        return []
    found: dict[str, tuple[int, ParsedPostcode]] = {}
    for swapped in itertools.product((False, True), repeat=len(spots)):
        chars = list(squashed)
        for spot, swap in zip(spots, swapped, strict=True):
            if swap:
                chars[spot] = _LOOKALIKES[chars[spot]]
        try:
            parsed = parse("".join(chars), allow_outcode=allow_outcode)
        except InvalidPostcode:
            continue
        found.setdefault(parsed.postcode or parsed.outcode, (sum(swapped), parsed))
    return [parsed for _, parsed in sorted(found.values(), key=lambda item: item[0])]
