import pandas as pd
import pytest
from pydantic import ValidationError

from assay.transforms.text import MapValues, Normalize, RegexExtract, RegexReplace
from tests.transforms.helpers import apply_checked


def strings(*values: str | None) -> pd.DataFrame:
    return pd.DataFrame({"s": list(values)}, index=range(100, 100 + len(values))).astype("str")


def test_normalize_strips_by_default_and_keeps_nulls(people):
    result = apply_checked(Normalize(columns=["name"]), people)
    assert result.frame["name"].tolist()[:2] == ["Ann", "bob"]
    assert result.frame["name"].isna().tolist() == [False, False, True, False, False]
    assert result.frame["name"].dtype == people["name"].dtype


def test_normalize_case_whitespace_and_unicode():
    frame = strings("  ﬁrst\u00a0 \t SECOND  ", "Ce\u0301cile", None)
    step = Normalize(columns=["s"], case="lower", unicode="NFKC", collapse_whitespace=True)
    out = apply_checked(step, frame).frame["s"].tolist()
    assert out[0] == "first second"  # NFKC folds the ligature and the no-break space
    assert out[1] == "c\u00e9cile"  # composed é
    assert pd.isna(out[2])
    title = Normalize(columns=["s"], case="title", strip=False).apply(strings(" ab cd"))
    assert title.frame["s"].tolist() == [" Ab Cd"]
    nfd = Normalize(columns=["s"], unicode="NFD").apply(strings("\u00e9"))
    assert nfd.frame["s"].tolist() == ["e\u0301"]


def test_normalize_refuses_non_string_columns(people):
    with pytest.raises(ValueError, match="not a string column"):
        Normalize(columns=["age"]).apply(people)
    with pytest.raises(ValidationError):
        Normalize(columns=["name"], case="camel")


def test_regex_replace_in_place_and_into_with_backrefs():
    frame = strings("2024-01-31", "x", None)
    step = RegexReplace(column="s", pattern=r"(\d+)-(\d+)-(\d+)", replacement=r"\3/\2/\1")
    assert apply_checked(step, frame).frame["s"].tolist()[:2] == ["31/01/2024", "x"]
    into = RegexReplace(column="s", pattern=r"\d", replacement="#", into="masked")
    out = apply_checked(into, frame).frame
    assert out["masked"].tolist()[0] == "####-##-##"
    assert out["s"].tolist()[0] == "2024-01-31"


@pytest.mark.parametrize(
    ("pattern", "replacement", "message"),
    [("(", "", "invalid regular expression"), ("(a)", r"\2", "invalid replacement")],
)
def test_regex_replace_checks_pattern_and_replacement(pattern, replacement, message):
    with pytest.raises(ValidationError, match=message):
        RegexReplace(column="s", pattern=pattern, replacement=replacement)


def test_regex_extract_named_groups_become_string_columns():
    frame = strings("alice@example.com", "no at sign", None)
    step = RegexExtract(column="s", pattern=r"(?P<user>[^@]+)@(?P<domain>.+)")
    result = apply_checked(step, frame)
    out = result.frame
    assert list(out.columns) == ["s", "user", "domain"]
    assert out["user"].tolist()[0] == "alice"
    assert out["domain"].tolist()[0] == "example.com"
    assert out["domain"].isna().tolist() == [False, True, True]
    assert str(out["user"].dtype) == "str"


def test_regex_extract_single_group_into():
    out = apply_checked(
        RegexExtract(column="s", pattern=r"(\d+)", into="n"), strings("a12b", "c")
    ).frame
    assert out["n"].isna().tolist() == [False, True]
    assert out["n"].tolist()[0] == "12"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pattern": r"(\d+)"},  # unnamed group without into
        {"pattern": r"(\d)(\d)", "into": "x"},  # two unnamed groups
        {"pattern": r"(?P<a>\d)(\d)"},  # mixed
        {"pattern": r"(?P<a>\d)", "into": "x"},  # named and into
        {"pattern": r"\d"},  # no group
        {"pattern": r"(?P<a>"},  # invalid
    ],
)
def test_regex_extract_validates_groups(kwargs):
    with pytest.raises(ValidationError):
        RegexExtract(column="s", **kwargs)


def test_map_values_aliases_case_insensitive_and_unmapped():
    frame = strings("USA", "united states", "uk", "France", None)
    aliases = {"US": ["usa", "United States"], "GB": ["uk"]}
    keep = apply_checked(MapValues(column="s", aliases=aliases, case_insensitive=True), frame)
    assert keep.frame["s"].tolist()[:4] == ["US", "US", "GB", "France"]
    assert keep.frame["s"].isna().tolist()[4]
    exact = MapValues(column="s", aliases=aliases, unmapped="null").apply(frame)
    assert exact.frame["s"].isna().tolist() == [True, True, False, True, True]
    assert exact.frame["s"].tolist()[2] == "GB"
    assert str(exact.frame["s"].dtype) == "str"


def test_map_values_refuses_ambiguous_aliases():
    with pytest.raises(ValidationError, match="maps to both"):
        MapValues(column="s", aliases={"A": ["x"], "B": ["X"]}, case_insensitive=True)
