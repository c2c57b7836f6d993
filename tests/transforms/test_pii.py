"""The ``pii`` step: each kind found and redacted exactly, look-alikes left alone, the
quarantine's reasons, counts per kind, and clear errors for bad keys."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from assay.pipelines.errors import SpecError
from assay.pipelines.spec import parse_spec
from assay.transforms.base import REASON_SEP
from assay.transforms.pii import Pii
from assay.transforms.pii.detectors import DETECTORS, KINDS, Options, phone_leniency
from assay.transforms.pii.scan import find, redact, scan_column
from tests.transforms.helpers import apply_checked

# One real-shaped example per kind (test numbers the issuers publish where they exist).
EXAMPLES = {
    "email": "jane.doe+news@example.co.uk",
    "iban": "DE89 3704 0044 0532 0130 00",
    "card": "4111 1111 1111 1111",
    "us_ssn": "536-22-1234",
    "gb_nino": "AB 12 34 56 C",
    "de_idnr": "36 574 261 809",
    "fr_nir": "2 95 10 99 126 111 93",
    "es_dni": "54362315K",
    "it_codice_fiscale": "RCCMNL83S18D969H",
    "in_aadhaar": "2341 2341 2346",
    "br_cpf": "390.533.447-05",
    "ip": "203.0.113.7",
    "phone": "(415) 555-0132",
}


def texts(*values: str | None) -> pd.DataFrame:
    return pd.DataFrame({"text": list(values)}, index=range(7, 7 + len(values))).astype("str")


def redacted(text: str, **keys: object) -> str:
    return Pii(columns=["text"], **keys).apply(texts(text)).frame["text"].iloc[0]


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_each_kind_is_found_redacted_and_counted(kind):
    frame = texts(f"see {EXAMPLES[kind]} now", "no personal data here")
    result = apply_checked(Pii(columns=["text"]), frame)
    assert result.frame["text"].tolist() == [f"see <{kind.upper()}> now",
                                             "no personal data here"]
    assert {k: int(v.sum()) for k, v in result.counts.items() if v.sum()} == {kind: 1}
    assert result.removed is None


def test_several_kinds_adjacent_matches_and_unicode_around_them():
    text = ("Écrivez à élodie@exemple.fr ou au 📞+33 1 23 45 67 89 — IBAN "
            "FR14 2004 1010 0505 0001 3M02 606, carte 5555-5555-5555-4444;"
            "IP 192.0.2.1,198.51.100.23 et 2001:db8::8a2e:370:7334.")
    assert redacted(text) == (
        "Écrivez à <EMAIL> ou au 📞<PHONE> — IBAN <IBAN>, carte <CARD>;"
        "IP <IP>,<IP> et <IP>.")


def test_tokens_kinds_allow_and_private_ips():
    text = "mail help@corp.example or bob@corp.example, host 10.0.0.7 or 8.8.8.8"
    assert redacted(text, tokens={"email": "[e]"}, allow=["help@corp.example"],
                    keep_private_ips=True) == (
        "mail help@corp.example or [e], host 10.0.0.7 or <IP>")
    assert redacted(text, kinds=["ip"]) == (
        "mail help@corp.example or bob@corp.example, host <IP> or <IP>")


def test_phone_regions_decide_numbers_without_country_code():
    text = "ring 020 7946 0958 or +1 415-555-0132"
    assert redacted(text) == "ring 020 7946 0958 or <PHONE>"  # 020... is no US number
    assert redacted(text, phone_regions=["US", "GB"]) == "ring <PHONE> or <PHONE>"


LOOK_ALIKES = [
    "Released 2023-01-15, updated 15.01.2023 and 01/15/2023 at 10:30:45.",
    "Upgrade to version 1.2.3 or v10.0.19041.1234; build 1.2.3.4.5 is old.",
    "ISBN 978-3-16-148410-0, order #20231115-00042, invoice 1234567812345678.",
    "Total $1,234,567.89 for 12 items (3.5%), ref 4111111111111112.",
    "Call std::vector::push_back, not abc::def; the time was 12:30:45.",
    "Serial AB-1234-5678, tracking 1Z999AA10123456784, MAC 00:1A:2B:3C:4D:5E.",
    "Refs 5225-1348-91 and 3141-5926-53, page 211-227 (2003), room 4155 550 132.",
    "Room 101, population 8,336,817, coordinates 40.7128, -74.0060.",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_dates_versions_order_ids_and_numbers_are_not_pii(text):
    result = Pii(columns=["text"]).apply(texts(text))
    assert result.frame["text"].iloc[0] == text
    assert sum(int(v.sum()) for v in result.counts.values()) == 0


def test_invalid_checksums_are_left_alone():
    for text in ["card 4111 1111 1111 1112", "IBAN DE89 3704 0044 0532 0130 01",
                 "SSN 000-12-3456 or 666-12-3456", "IdNr 36 574 261 808",
                 "ip 256.1.1.1 and 01.02.03.04", "Aadhaar 2341 2341 2345"]:
        assert redacted(text) == text


def test_greedy_candidates_are_cut_back_to_the_valid_identifier():
    assert redacted("4111 1111 1111 1111 2025") == "<CARD> 2025"  # expiry after the card
    assert redacted("2025 4111 1111 1111 1111") == "2025 <CARD>"  # a group before it
    assert redacted("DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX") == "<IBAN> BIC COBADEFFXXX"
    assert redacted("ID536-22-1234") == "ID536-22-1234"  # glued to letters: no SSN


def test_nulls_stay_null_and_count_nothing():
    result = apply_checked(Pii(columns=["text"], kinds_column="kinds"),
                           texts(None, "a@b.io", None))
    assert result.frame["text"].isna().tolist() == [True, False, True]
    assert result.frame["kinds"].isna().tolist() == [True, False, True]
    assert int(result.counts["email"].sum()) == 1


def test_quarantine_removes_rows_with_a_reason_per_kind_and_keeps_text():
    frame = texts("write to a@b.io or call +44 20 7946 0958", "clean", None,
                  "card 4111-1111-1111-1111")
    result = apply_checked(Pii(columns=["text"], action="quarantine",
                               kinds_column="kinds"), frame)
    assert result.fate == "quarantined"
    assert result.removed.tolist() == [True, False, False, True]
    assert result.reason[result.removed].tolist() == [
        f"contains email{REASON_SEP}contains phone", "contains card"]
    assert result.frame["text"].tolist()[:2] == frame["text"].tolist()[:2]
    assert result.frame["kinds"].tolist()[0] == "email,phone"
    dropped = Pii(columns=["text"], action="drop").apply(frame)
    assert dropped.fate == "dropped" and dropped.removed.tolist() == [True, False, False, True]


def test_several_columns_sum_their_counts_and_object_columns_work():
    frame = pd.DataFrame({"title": ["a@b.io", "x"], "body": ["c@d.io e@f.io", None]},
                         dtype=object)
    result = Pii(columns=["title", "body"]).apply(frame)
    assert result.counts["email"].tolist() == [3, 0]
    assert result.frame["body"].tolist() == ["<EMAIL> <EMAIL>", None]


@pytest.mark.parametrize(("keys", "message"), [
    ({"kinds": ["emails"]}, "Input should be 'email'"),
    ({"tokens": {"mail": "[m]"}}, "Input should be 'email'"),
    ({"phone_regions": ["XX", "us"]}, r"unknown phone region\(s\) \['XX', 'us'\]"),
    ({"action": "mask"}, "'redact', 'quarantine' or 'drop'"),
    ({"kinds": []}, "at least 1 item"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
    ({"kinds_column": "text"}, "kinds_column 'text' is one of the searched columns"),
    ({"kinds": ["phone"], "tokens": {"email": "[e]"}}, r"tokens given for kinds not searched: "
                                                      r"\['email'\]"),
])
def test_bad_keys_fail_the_spec_with_the_key_named(tmp_path, keys, message):
    data = {"name": "t", "source": {"paths": ["in"]},
            "schema": {"columns": [{"name": "text", "type": "string"}]},
            "steps": [{"op": "pii", "columns": ["text"], **keys}], "sink": {"path": "out"}}
    with pytest.raises(SpecError, match=message) as failure:
        parse_spec(data, str(tmp_path / "pipeline.yaml"), tmp_path)
    assert "pii" in str(failure.value)


def test_missing_and_non_string_columns_are_named():
    frame = pd.DataFrame({"text": ["a"], "n": [1]})
    with pytest.raises(ValueError, match=r"pii: no such column\(s\) \['body'\]"):
        Pii(columns=["body"]).apply(frame)
    with pytest.raises(ValueError, match="pii: column n is int64, not a string column"):
        Pii(columns=["n"]).apply(frame)


def test_bare_digit_runs_with_weak_checks_count_only_when_asked():
    text = "call 4155550132 or (415) 555-0199, ids 234123412346 36574261809, cpf 39053344705"
    assert redacted(text) == ("call 4155550132 or <PHONE>, ids 234123412346 36574261809, "
                              "cpf <BR_CPF>")
    assert redacted(text, bare_numbers=True) == (
        "call <PHONE> or <PHONE>, ids <IN_AADHAAR> <DE_IDNR>, cpf <BR_CPF>")


def test_few_random_order_numbers_pass_for_pii():
    """Random 9 to 19 digit runs (order, account, tracking numbers) bare in text: with the
    defaults, only those a strong check accepts count (a card's issuer, length and Luhn,
    a CPF's two check digits), about one in a hundred."""
    import random

    rng = random.Random(7)
    numbers = ["".join(rng.choice("0123456789") for _ in range(rng.randrange(9, 20)))
               for _ in range(2000)]
    text = " ".join(f"order {number}," for number in numbers)
    found = Pii(columns=["text"]).apply(texts(text)).counts
    assert sum(int(per_row.sum()) for per_row in found.values()) < 0.015 * len(numbers)


def test_a_phone_run_into_the_next_number_is_cut_back():
    assert redacted("PEP +1 (415) 555-0123 560 says") == "PEP <PHONE> 560 says"


def test_an_allowed_match_is_not_taken_by_a_later_kind_either():
    # the allowed card's digits are no phone candidate afterwards
    assert redacted("test card 4111 1111 1111 1111", allow=["4111 1111 1111 1111"],
                    bare_numbers=True) == "test card 4111 1111 1111 1111"


TRICKY = [*LOOK_ALIKES, *(f"x {value} y" for value in EXAMPLES.values()),
          "\x01 marker chars \x02 around a@b.io and 4111 1111 1111 1111",
          "\x02 reversed a@b.io markers \x01", "a@b.io then 4111 1111 1111 1111 \x01",
          "Ünïcödé ✓ 📞 +44 20 7946 0958 — élodie@exemple.fr, 2001:db8::1:2 日本 203.0.113.9",
          "2025 4111 1111 1111 1111 and DE89 3704 0044 0532 0130 00 BIC X, 536-22-1234"]


def test_re2_located_candidates_give_what_a_plain_python_search_gives():
    """scan_column finds candidates with RE2 and confirms them in Python; searching every
    text with Python's re alone must give the same PII."""
    values = pa.array(TRICKY, pa.large_string())
    options = Options(("US", "GB"))
    tokens = {kind: f"<{kind}>" for kind in KINDS}
    scanned = scan_column(values, DETECTORS, options, tokens, frozenset())
    expected = [redact(text, find(text, DETECTORS, options), tokens) for text in TRICKY]
    assert scanned.redacted.to_pylist() == expected
    assert scanned.redacted.to_pylist()[-5].startswith("\x01 marker chars \x02 around <email>")


PHONE_TEXTS = [
    "Call 415.555.0132, (415)555-0199 or 1-800-555-0100 x123; fax +1 415 555 0111.",
    "UK: 020 7946 0958, +44 (0)20 7946 0959, 07700 900123; DE: +49 30 901820",
    "ids 12345678 and 2023-05-06 and 10:30 and 3.5 and 1,234,567 and 555-0132.",
    "Reach us on +33 1 23 45 67 89 (Paris) or +91 98765 43210, or 4155550132.",
    "Toronto (416) 555-0123 and Bermuda 441-555-0123 share the US country code.",
]


@pytest.mark.parametrize("region", ["US", "GB"])
def test_phones_are_what_phonenumbers_finds_in_the_whole_text(region):
    """The matcher on windows around RE2's candidates finds what PhoneNumberMatcher at
    the same leniency finds on the whole document (bare digit runs included, as it takes
    them)."""
    from phonenumbers import PhoneNumberMatcher

    phone = [d for d in DETECTORS if d.kind == "phone"]
    options = Options((region,), bare_numbers=True)
    for text in PHONE_TEXTS:
        ours = [(start, end) for start, end, _ in find(text, phone, options)]
        theirs = [(m.start, m.end)
                  for m in PhoneNumberMatcher(text, region, leniency=phone_leniency())]
        assert ours == theirs, text


def test_documents_without_candidates_never_reach_python(monkeypatch):
    """RE2 over the whole column decides which documents Python sees: prose with short
    numbers, dates and prices is never searched or validated one by one."""
    from assay.transforms.pii import scan

    searched: list[str] = []
    original = scan.find

    def spy(text, *args, **kwargs):
        searched.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(scan, "find", spy)
    prose = [f"In {1990 + n} the shop sold {n} items at ${n}.99 each (up {n}%) on 12/0{n % 9 + 1}."
             for n in range(50)]
    with_pii = ["write to ann@example.org", "ring +44 20 7946 0958"]
    result = Pii(columns=["text"]).apply(texts(*prose, *with_pii))
    assert searched == with_pii
    assert int(result.counts["email"].sum()) == 1 and int(result.counts["phone"].sum()) == 1


def test_a_date_before_a_phone_is_skipped_not_the_phone():
    assert redacted("on 2024-01-15 415-555-0132 rang", phone_regions=["US", "GB"]) == (
        "on 2024-01-15 <PHONE> rang")
    assert redacted("at 2010-07-04 12:00 and 15/01/2024 09:30", phone_regions=["US", "GB"]) \
        == "at 2010-07-04 12:00 and 15/01/2024 09:30"


def test_a_large_document_full_of_pii():
    text = " ".join(f"u{n}@example.org 4111 1111 1111 1111 203.0.113.{n % 250}"
                    for n in range(5000))  # 300 KB, 15,000 matches
    result = Pii(columns=["text"]).apply(texts(text))
    assert result.frame["text"].iloc[0].startswith("<EMAIL> <CARD> <IP> <EMAIL> <CARD>")
    assert {k: int(v.sum()) for k, v in result.counts.items() if v.sum()} == {
        "email": 5000, "card": 5000, "ip": 5000}
