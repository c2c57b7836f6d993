"""The ``pii`` step: find e-mail addresses, phone numbers, IP addresses, payment cards,
IBANs and national identifiers in text columns; redact them with a token per kind, or
remove the rows that hold any (quarantined or dropped, the reasons naming the kinds).
Every kind found is counted in the run's accounting (``counts_by_step``)."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import ConfigDict, Field, field_validator, model_validator

from assay.transforms import frame as fr
from assay.transforms.base import REASON_SEP, PartitionStep, StepResult, register
from assay.transforms.frame import Frame
from assay.transforms.params import (
    ColumnList,
    ColumnName,
    add_columns,
    fate_of,
    require_columns,
    string_column,
)
from assay.transforms.pii.detectors import DETECTORS, KINDS, Options, phone_regions
from assay.transforms.pii.scan import scan_column

PiiKind = Literal[KINDS]  # type: ignore[valid-type]
_COUNT = "_pii_count_"  # prefix of the per-kind count columns the host scan returns


@register
class Pii(PartitionStep):
    """Find e-mail addresses, phone numbers, IP addresses, payment cards, IBANs and national
    identifiers in ``columns``; redact each with its kind's token, or remove the rows that
    hold any with a reason per kind. Counts per kind reach the accounting's
    ``counts_by_step``. Runs on the host on either backend (the validators are Python)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "op": "pii", "columns": ["text"], "phone_regions": ["US", "GB"],
        "tokens": {"email": "[email]"}}]})

    op: Literal["pii"] = "pii"
    heap_temporaries: ClassVar[bool] = True
    counted = True
    columns: ColumnList = Field(description="The text columns to search.",
                                examples=[["text"], ["title", "body"]])
    kinds: list[PiiKind] | None = Field(None, min_length=1, description=(
        "The kinds to find (null: all), matched in this order (where two overlap, the "
        "earlier wins): `email`; `iban` (python-stdnum: country format, mod 97); `card` "
        "(13-19 digits, issuer prefix and length, 4-digit grouping, Luhn); `us_ssn` "
        "(`123-45-6789` or spaced, python-stdnum's ranges); `gb_nino` (HMRC's format rules; "
        "there is no checksum); `de_idnr` (Steuer-IdNr), `fr_nir`, `es_dni` (DNI and NIE), "
        "`it_codice_fiscale`, `in_aadhaar`, `br_cpf` (each checksummed by python-stdnum); "
        "`ip` (v4 and v6, Python's `ipaddress`); `phone` (phonenumbers' matcher, leniency "
        "STRICT_GROUPING: numbers valid in `phone_regions` or their `+` country's plan, "
        "their digit groups where that plan puts them). Identifiers "
        "with letters (IBAN, NINO, DNI/NIE, codice fiscale) are matched in capitals, as "
        "issued."),
        examples=[["email", "phone", "ip"], ["card", "iban"]])
    action: Literal["redact", "quarantine", "drop"] = Field("redact", description=(
        "`redact` replaces each match by its token and keeps the row; `quarantine` moves "
        "rows holding any PII to the quarantine (as this step got them, PII included: "
        "restrict who reads it), one reason per kind found (`contains email`); `drop` "
        "removes them with the same reasons and keeps no record (unless `keep_removed`)."),
        examples=["quarantine"])
    tokens: dict[PiiKind, str] = Field(default_factory=dict, description=(
        "Replacement per kind under `redact`; a kind not listed becomes `<KIND>` "
        "(`<EMAIL>`, `<PHONE>`, `<IP>`, `<CARD>`, `<IBAN>`, `<US_SSN>`, ...)."),
        examples=[{"email": "[email]", "phone": "[phone]"}])
    phone_regions: list[str] = Field(["US"], min_length=1, description=(
        "Regions (ISO 3166 alpha-2, as phonenumbers knows them) whose national numbering "
        "plans are tried for numbers written without a `+` country code; a number with one "
        "is validated in its own country whatever this says."), examples=[["GB", "IE"]])
    bare_numbers: bool = Field(False, description=(
        "Also take phone numbers, Aadhaar and Steuer-IdNr written as one run of digits "
        "(`4155550132`, `234123412346`); off by default: such runs in text are more often "
        "order, account or tracking numbers, and about one in ten random ones passes a "
        "numbering plan or a one-digit check. Written with a `+`, brackets or separators "
        "(`415-555-0132`, `2341 2341 2346`) they are always taken; cards, IBANs, CPF, NIR "
        "and the others are taken bare too (their checks are stronger)."),
        examples=[True])
    keep_private_ips: bool = Field(False, description=(
        "Leave IP addresses that are not globally routable (private, loopback, link-local, "
        "documentation ranges) as they are: they name no one's machine on the internet."),
        examples=[True])
    allow: list[str] = Field(default_factory=list, description=(
        "Exact matches never redacted nor counted, e.g. the public support address or "
        "phone number a corpus is full of."), examples=[["support@example.com"]])
    kinds_column: ColumnName | None = Field(None, description=(
        "Also write the kinds found in each row (comma-separated, null: none) to this "
        "column, to audit or re-filter without scanning again."), examples=["pii_kinds"])

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        unknown = [region for region in regions if region not in phone_regions()]
        if unknown:
            raise ValueError(f"unknown phone region(s) {unknown}: use ISO 3166 alpha-2 codes "
                             "in capitals that phonenumbers supports, e.g. US, GB, DE, IN")
        return regions

    @model_validator(mode="after")
    def _consistent(self) -> Pii:
        if self.kinds_column in self.columns:
            raise ValueError(f"kinds_column {self.kinds_column!r} is one of the searched "
                             "columns: name a new column")
        unused = sorted(set(self.tokens) - set(self.chosen))
        if unused:
            raise ValueError(f"tokens given for kinds not searched: {unused} (kinds: "
                             f"{self.chosen})")
        return self

    @property
    def chosen(self) -> list[str]:
        """The kinds searched, in priority order."""
        return [kind for kind in KINDS if self.kinds is None or kind in self.kinds]

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        return add_columns(columns, [self.kinds_column] if self.kinds_column else [])

    def apply(self, frame: Frame) -> StepResult:
        self.output_columns(list(frame.columns))
        for column in self.columns:
            string_column(frame, column, self.label)
        # on cuDF the text columns go to the host and the result comes back (GPU session:
        # check the str columns and the null _pii_kinds survive cudf.from_pandas)
        found = fr.via_host(frame[self.columns], "pii", _scan_frame, self)
        counts = {kind: found[_COUNT + kind] for kind in self.chosen}
        assigned = {c: found[c] for c in self.columns if self.action == "redact"}
        kinds = found["_pii_kinds"]
        if self.kinds_column:
            assigned[self.kinds_column] = kinds.str.replace(REASON_SEP, ",", regex=False)
        out = frame.assign(**assigned) if assigned else frame
        if self.action == "redact":
            return StepResult(out, counts=counts)
        reasons = "contains " + kinds.str.replace(REASON_SEP, REASON_SEP + "contains ",
                                                  regex=False)
        return StepResult(out, removed=kinds.notna(), reason=reasons,
                          fate=fate_of(self.action), counts=counts)


def _scan_frame(frame: pd.DataFrame, step: Pii) -> pd.DataFrame:
    """On the host: each column redacted (when the step redacts), each kind's count per row
    (``_pii_count_<kind>``) and the kinds found (``_pii_kinds``, joined by REASON_SEP;
    null where none)."""
    chosen = step.chosen
    detectors = [d for d in DETECTORS if d.kind in chosen]
    options = Options(tuple(step.phone_regions), step.bare_numbers,
                      step.keep_private_ips)
    tokens = ({kind: step.tokens.get(kind, f"<{kind.upper()}>") for kind in chosen}
              if step.action == "redact" else None)
    allow = frozenset(step.allow)
    totals = {kind: np.zeros(len(frame), dtype=np.int64) for kind in chosen}
    out = {}
    for column in step.columns:
        values = frame[column]
        arrow = fr.arrow_strings(values)
        if arrow is None:
            arrow = pa.array(values.to_numpy(dtype=object, na_value=None), pa.large_string())
        scanned = scan_column(arrow, detectors, options, tokens, allow)
        for kind, per_row in scanned.counts.items():
            totals[kind] += per_row
        if scanned.redacted is not None:
            values = pd.Series(scanned.redacted, index=frame.index, dtype=values.dtype)
        out[column] = values
    out.update({_COUNT + kind: per_row for kind, per_row in totals.items()})
    out["_pii_kinds"] = _kinds_found(totals, frame.index)
    return pd.DataFrame(out, index=frame.index)


def _kinds_found(totals: dict[str, np.ndarray], index: pd.Index) -> pd.Series:
    """``email<SEP>phone`` per row (null: nothing found), built in Python for the rows
    with PII only."""
    any_found = np.zeros(len(index), dtype=bool)
    for per_row in totals.values():
        any_found |= per_row > 0
    kinds = np.full(len(index), None, dtype=object)
    rows = np.flatnonzero(any_found)
    kinds[rows] = [REASON_SEP.join(kind for kind, per_row in totals.items() if per_row[row])
                   for row in rows]
    return pd.Series(kinds, index=index, dtype="str")
