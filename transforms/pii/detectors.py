"""What each PII kind looks like and how a candidate is confirmed.

A detector is a candidate pattern plus a validator. The pattern is written in the syntax
RE2 (Arrow's regex engine) and Python's ``re`` share, with ASCII classes only, so the
vectorized prefilter over a whole partition (``scan``) and the per-document search agree:
a document with no RE2 match has no Python candidate either. The validator then confirms a
candidate with a well-kept library where one exists: ``phonenumbers`` for phones,
``python-stdnum`` for IBANs, the Luhn check and national identifiers, the standard
library's ``ipaddress`` for IPs.

Validators run in Python, one candidate at a time: a checksum, a country's numbering plan
or an address parser has no vectorized form, so the prefilter's job is to keep them to the
few documents and spans that could hold PII.

``phonenumbers`` and ``python-stdnum`` are imported where a candidate is first checked, not
with this module: the step library is imported to read any spec, and their tables cost
every run that has no ``pii`` step (``tests/test_start_cost.py``).
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import islice

Span = tuple[int, int]


@dataclass(frozen=True)
class Options:
    """What the step's spec tells the validators."""

    phone_regions: tuple[str, ...] = ("US",)
    bare_numbers: bool = False
    keep_private_ips: bool = False


# A finder gets the text, one candidate match and the options; it returns the spans it
# confirms (a candidate may hold none, one, or, for phones, several).
Finder = Callable[[str, re.Match[str], Options], list[Span]]


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: str  # RE2 and Python syntax alike, ASCII classes
    find: Finder
    # where a candidate with nothing confirmed is searched again: after each of these
    # separators inside it ("2025 4111 1111 1111 1111" holds a card after its first
    # group); none: after the candidate
    separators: str = ""

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compiled(self.pattern)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _bounded(text: str, start: int, end: int) -> bool:
    """No letter or digit (any script) touches the span: ``ID123-45-6789`` is no SSN."""
    return ((start == 0 or not text[start - 1].isalnum())
            and (end == len(text) or not text[end].isalnum()))


def _ends(text: str, start: int, end: int, separators: str) -> Iterator[int]:
    """The candidate's end, then each end before a separator, longest first: a greedy
    match that ran into the next group (``4111 1111 1111 1111 2025``) is tried shorter."""
    yield end
    for at in range(end - 1, start, -1):
        if text[at] in separators and text[at - 1] not in separators:
            yield at


def _checked(kind: str, pattern: str, valid: Callable[[str], bool], separators: str = "",
             weak: bool = False) -> Detector:
    """A detector for identifiers a checksum or format validator confirms: the longest
    prefix of the candidate, cut at a separator, that is bounded and valid. ``weak``: a
    one-digit check (about one random number in ten passes), so a bare run of digits, which
    in text is more often an order or account number, counts only with ``bare_numbers``."""
    def find(text: str, match: re.Match[str], options: Options) -> list[Span]:
        start = match.start()
        for end in _ends(text, start, match.end(), separators):
            value = text[start:end]
            if (_bounded(text, start, end) and (options.bare_numbers or not weak
                                                or not value.isdigit())
                    and valid(value)):
                return [(start, end)]
        return []
    return Detector(kind, pattern, find, separators)


def _stdnum(module: str) -> Callable[[str], bool]:
    """``stdnum.<module>.is_valid``, imported at its first candidate."""
    def valid(value: str) -> bool:
        return importlib.import_module(f"stdnum.{module}").is_valid(value)
    return valid


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


# -- e-mail

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"


def _email(text: str, match: re.Match[str], options: Options) -> list[Span]:
    """The pattern is ASCII (RE2 and Python must agree); an internationalized local part
    (``élodie@...``, RFC 6531) is taken whole by extending the match over letters."""
    start, end = match.span()
    while start and (text[start - 1].isalnum() or text[start - 1] in "._%+-"):
        start -= 1
    local, domain = text[start:end].split("@", 1)
    start += len(local) - len(local.lstrip("."))  # a sentence's dot before the address
    local = local.lstrip(".")
    labels = domain.split(".")
    if (not local or ".." in local or local.endswith(".") or not labels[-1].isalpha()
            or len(labels[-1]) < 2
            or any(not label or label[0] == "-" or label[-1] == "-" for label in labels)):
        return []
    return [(start, end)]


# -- phone numbers

# Seven to seventeen digits with the separators people write between them.
_PHONE = r"\+?\(?[0-9](?:[ ./\-()]{0,3}[0-9]){6,16}"
# A date leading a candidate: phonenumbers turns down most dates itself, but only after
# parsing them in every region; the rest of the candidate may still hold a number.
_DATE = re.compile(r"(?:[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|"
                   r"[0-9]{1,2}[-/.][0-9]{1,2}[-/.](?:[0-9]{4}|[0-9]{2}))")
# Characters either side of the candidate the matcher sees: its checks read the ones
# around a number, and an extension ("x123", "ext. 1234") follows it.
_CONTEXT = 4
_EXTENSION = 10
_DECIMAL = re.compile(r"\+?[0-9]+\.[0-9]+")  # 3.140000: one dot is a decimal number


def phone_leniency() -> int:
    """The matcher's leniency: STRICT_GROUPING (see ``_phone``)."""
    from phonenumbers import Leniency

    return Leniency.STRICT_GROUPING


@cache
def phone_regions() -> frozenset[str]:
    """The regions phonenumbers has numbering plans for (ISO 3166 alpha-2)."""
    import phonenumbers

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


@cache
def _shortest_number(regions: tuple[str, ...]) -> int:
    """The fewest digits a national number of ``regions`` has (their metadata's possible
    lengths): a shorter candidate without a ``+`` needs no matcher."""
    import phonenumbers

    return min(min(phonenumbers.PhoneMetadata.metadata_for_region(region)
                   .general_desc.possible_length) for region in regions)


def _phone(text: str, match: re.Match[str], options: Options) -> list[Span]:
    """``PhoneNumberMatcher`` at ``phone_leniency()`` on a window around the candidate.
    STRICT_GROUPING accepts numbers valid in their region's numbering plan (length and
    prefixes) whose digit groups, if any, fall where the plan's formats put them, rejects
    digits glued to letters, and keeps the matcher's date, time stamp and page-reference
    checks. VALID, one step looser, took one in twenty reference numbers such as
    ``ref 5225-1348-91`` for phones (a valid US number, wrongly grouped) and only gains
    numbers grouped against their country's custom (``415 5550 132``); POSSIBLE would
    take any digit run of a phone's length. The window, not the document, is matched (the
    matcher costs some 50 µs a window, far more a kilobyte of prose), and only in the
    region whose plan the candidate fits (``_plan_of``); a formatted candidate that ran on
    into the next number (``555-0123 560``) is tried again cut at its last spaces (where
    the matcher, on the whole document, finds nothing)."""
    return _phone_in(text, *match.span(), options)


def _phone_in(text: str, start: int, end: int, options: Options) -> list[Span]:
    """The phone numbers of the candidate ``text[start:end]``."""
    from phonenumbers import PhoneNumberMatcher

    candidate = text[start:end]
    if (date := _DATE.match(candidate)) is not None:  # "2010-07-04 12:00", "1/2/2024 415-..."
        after = _compiled(_PHONE).search(text, start + date.end(), end)  # what follows it,
        if after is None:  # searched anew (the candidate may have stopped at its digit limit)
            return []
        again = _compiled(_PHONE).match(text, after.start())
        return _phone_in(text, *again.span(), options)
    if ((candidate.isdigit() and not options.bare_numbers) or _DECIMAL.fullmatch(candidate)
            or (candidate[0] != "+"
                and len(_digits(candidate)) < _shortest_number(options.phone_regions))):
        return []  # the common look-alikes in prose, turned down before the matcher
    low = max(0, start - _CONTEXT)
    # cut only a candidate formatted as a phone: "4424 7769 1293 1234" is a card's digits
    cuts = 3 if any(mark in candidate for mark in "+(-.") else 1
    for cut in islice(_ends(text, start, end, " "), cuts):
        region = _plan_of(text[start:cut], options.phone_regions)
        if region is None:
            continue
        window = text[low:min(len(text), end + _EXTENSION) if cut == end else cut]
        found = [(low + number.start, low + number.end)
                 for number in PhoneNumberMatcher(window, region, leniency=phone_leniency())
                 if options.bare_numbers or not number.raw_string.isdigit()]
        if found:
            return found
    return []


def _plan_of(number: str, regions: tuple[str, ...]) -> str | None:
    """The region to match ``number`` in: the first of ``regions`` where it parses as a
    valid number (``is_valid_number_for_region`` reads that region's plan alone; only when
    it says no is the whole country code tried, which is how a Canadian number counts in
    ``US``), or for a number with a ``+`` any region (its country code decides, and the
    matcher checks it). None: no matcher to run."""
    import phonenumbers

    if number.startswith("+"):
        return regions[0]
    for region in regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if (phonenumbers.is_valid_number_for_region(parsed, region)
                or phonenumbers.is_valid_number(parsed)):
            return region
    return None


# -- IP addresses

_IPV4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
# Starts with a hex group: a slice's "::" (a[::2]) is no candidate; "::1" and
# "::ffff:192.0.2.1" are not taken (see _ipv6).
_IPV6 = r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}"


def _ip_kept(address: ipaddress.IPv4Address | ipaddress.IPv6Address, options: Options
             ) -> bool:
    return options.keep_private_ips and not address.is_global


def _ipv4(text: str, match: re.Match[str], options: Options) -> list[Span]:
    start, end = match.span()
    before = text[start - 1] if start else ""
    after = text[end:end + 2]
    if (before.isalnum() or before == "." or after[:1].isalnum()
            or (after[:1] == "." and after[1:2].isdigit())):  # 1.2.3.4.5 is a version
        return []
    try:
        address = ipaddress.IPv4Address(match.group())
    except ValueError:  # an octet above 255, a leading zero
        return []
    return [] if _ip_kept(address, options) else [(start, end)]


def _ipv6(text: str, match: re.Match[str], options: Options) -> list[Span]:
    start, end = match.span()
    value = match.group()
    if value.endswith(":") and not value.endswith("::"):  # "at fe80::1: ..." ends a clause
        value, end = value[:-1], end - 1
    groups = [group for group in re.split(r"[:.]", value) if group]
    # two groups and a digit at least: C++'s "abc::def" is left alone
    if (len(groups) < 2 or not any(ch.isdigit() for ch in value)
            or not _bounded(text, start, end) or (start and text[start - 1] == ":")):
        return []
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:  # a time (12:30:45), a MAC address
        return []
    return [] if _ip_kept(address, options) else [(start, end)]


# -- payment cards

_CARD = r"[0-9](?:[ \-]?[0-9]){12,18}"
# Issuer prefixes of the networks in use and their card lengths: a Luhn-valid digit run
# with another prefix or length is an order, tracking or account number.
_ISSUERS = [(re.compile(prefix), lengths) for prefix, lengths in [
    (r"4", (13, 16, 19)),  # Visa
    (r"5[1-5]|2(?:2[2-9]|[3-6]|7[01]|720)", (16,)),  # Mastercard
    (r"3[47]", (15,)),  # American Express
    (r"6011|64[4-9]|65", range(16, 20)),  # Discover
    (r"35", range(16, 20)),  # JCB
    (r"3(?:0[0-5]|[689])", range(14, 20)),  # Diners Club
    (r"62", range(16, 20)),  # UnionPay
    (r"5018|5020|5038|5893|6304|6759|676[1-3]", range(12, 20)),  # Maestro
]]


_luhn = _stdnum("luhn")


def _card_valid(value: str) -> bool:
    digits = _digits(value)
    groups = [len(group) for group in re.split(r"[ \-]", value)]
    grouped = (len(groups) == 1 or groups in ([4, 6, 5], [4, 6, 4])
               or (all(n == 4 for n in groups[:-1]) and 1 <= groups[-1] <= 4))
    return (grouped and any(prefix.match(digits) and len(digits) in lengths
                            for prefix, lengths in _ISSUERS)
            and _luhn(digits))


# -- IBAN

_IBAN = r"[A-Z]{2}[0-9]{2}[ ]?[A-Z0-9]{4}(?:[ ]?[A-Z0-9]{1,4}){2,7}"

# -- national identifiers

_NINO_PREFIXES_UNUSED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def _nino_valid(value: str) -> bool:
    """The UK National Insurance number's published format rules (no checksum exists, and
    python-stdnum has no module for it): letters D F I Q U V never appear in the prefix,
    O never second, and a few prefixes are never issued."""
    compact = value.replace(" ", "")
    first, second = compact[0], compact[1]
    return (first not in "DFIQUV" and second not in "DFIQUVO"
            and compact[:2] not in _NINO_PREFIXES_UNUSED)


_ssn, _nie, _dni = _stdnum("us.ssn"), _stdnum("es.nie"), _stdnum("es.dni")


def _ssn_valid(value: str) -> bool:
    return value[3] == value[6] and _ssn(_digits(value))


def _es_valid(value: str) -> bool:
    compact = value.replace("-", "")
    return (_nie if compact[0] in "XYZ" else _dni)(compact)


DETECTORS: tuple[Detector, ...] = (
    # in priority order: where two kinds claim overlapping text, the earlier one wins
    Detector("email", _EMAIL, _email),
    _checked("iban", _IBAN, _stdnum("iban"), " "),
    _checked("card", _CARD, _card_valid, " -"),
    _checked("us_ssn", r"[0-9]{3}[ \-][0-9]{2}[ \-][0-9]{4}", _ssn_valid),
    _checked("gb_nino", r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]", _nino_valid),
    _checked("de_idnr", r"[1-9][0-9] ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}", _stdnum("de.idnr"),
             weak=True),
    _checked("fr_nir", r"[12] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[AB]) ?[0-9]{3} ?[0-9]{3} ?"
             r"[0-9]{2}", _stdnum("fr.nir")),
    _checked("es_dni", r"[XYZ]?[0-9]{7,8}-?[A-Z]", _es_valid),
    _checked("it_codice_fiscale", r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST]"
             r"[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]", _stdnum("it.codicefiscale")),
    _checked("in_aadhaar", r"[2-9][0-9]{3}[ \-]?[0-9]{4}[ \-]?[0-9]{4}", _stdnum("in_.aadhaar"),
             " -", weak=True),
    _checked("br_cpf", r"[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}", _stdnum("br.cpf")),
    Detector("ip", _IPV4, _ipv4),
    Detector("ip", _IPV6, _ipv6),
    Detector("phone", _PHONE, _phone),
)
KINDS: tuple[str, ...] = tuple(dict.fromkeys(d.kind for d in DETECTORS))
