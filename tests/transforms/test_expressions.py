import pandas as pd
import pytest
from pydantic import ValidationError

from assay.transforms.derive import Derive
from assay.transforms.expressions import parse_expression
from tests.transforms.helpers import apply_checked


def derive(frame: pd.DataFrame, expr: str) -> pd.Series:
    return apply_checked(Derive(column="out", expr=expr), frame).frame["out"]


@pytest.mark.parametrize(
    ("expr", "dtype", "expected"),
    [
        ("age + 1", "Int64", [32, None, 46, 18, 61]),
        ("score * 2 - 1", "float64", [2.0, 3.0, None, -7.0, 19.0]),
        ("age * score", "float64", [46.5, None, None, -51.0, 600.0]),
        ("age // 10 + age % 10", "Int64", [4, None, 9, 8, 6]),
        ("-score", "float64", [-1.5, -2.0, None, 3.0, -10.0]),
        ("score ** 2", "float64", [2.25, 4.0, None, 9.0, 100.0]),
        ("abs(score)", "float64", [1.5, 2.0, None, 3.0, 10.0]),
        ("round(score / 3, 2)", "float64", [0.5, 0.67, None, -1.0, 3.33]),
        ("upper(strip(name))", "str", ["ANN", "BOB", None, "CE\u0301CILE", "DAN"]),
        ("len(lower(name))", "Int64", [6, 3, None, 7, 3]),
        ('strip(name) + "!"', "str", ["Ann!", "bob!", None, "Ce\u0301cile!", "dan!"]),
        ("coalesce(age, 0)", "Int64", [31, 0, 45, 17, 60]),
        ("is_null(age)", "boolean", [False, True, False, False, False]),
        ('where(score > 1.9, "hi", "lo")', "str", ["lo", "hi", "lo", "lo", "hi"]),
        ("where(age > 40, age, 0)", "Int64", [0, 0, 45, 0, 60]),
        ("score > 0 and not (score > 5)", "boolean", [True, True, False, False, False]),
        ("0 < score <= 2", "boolean", [True, True, False, False, False]),
        ("score < 0 or score > 5", "boolean", [False, False, False, True, True]),
        ("year(seen)", "Int32", [2024, None, 2023, 2024, 2022]),
        ("month(seen) * 100 + day(seen)", "Int32", [102, None, 601, 1231, 202]),
        ("hour(seen)", "Int32", [3, None, 0, 23, 2]),
        ('col("name") == "bob"', "boolean", [False, True, False, False, False]),
        ("7", "Int64", [7, 7, 7, 7, 7]),
        ('"x"', "str", ["x"] * 5),
    ],
)
def test_derive_values_and_dtypes(people, expr, dtype, expected):
    out = derive(people, expr)
    assert str(out.dtype) == dtype
    assert [None if pd.isna(v) else v for v in out.tolist()] == expected


def test_derive_replaces_an_existing_column(people):
    result = apply_checked(Derive(column="age", expr="age * 2"), people)
    assert list(result.frame.columns) == list(people.columns)
    assert result.frame["age"].tolist()[0] == 62


def test_expression_reports_the_columns_it_reads():
    assert parse_expression("a + col('b c') * len(d)").columns == {"a", "b c", "d"}


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('true')", "attribute access \\(.system\\)"),
        ("().__class__.__bases__", "attribute access"),
        ("name.upper()", "attribute access"),
        ("__builtins__", "name '__builtins__' is not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("eval('1')", "unknown function 'eval'"),
        ("10**10**10", "exponent of \\*\\* must be a number literal"),
        ("age ** score", "exponent of \\*\\* must be a number literal"),
        ("2 ** 1000", "larger than 64"),
        ("'a' * 10", "strings only support \\+"),
        ("99999999999999999999999", "does not fit in 64 bits"),
        ("name[0]", "Subscript is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("[x for x in name]", "ListComp is not allowed"),
        ("(1, 2)", "Tuple is not allowed"),
        ("f'{name}'", "JoinedStr is not allowed"),
        ("age if score else 0", "IfExp is not allowed"),
        ("age is None", "comparisons are allowed"),
        ("round(score, ndigits=1)", "without keywords"),
        ("where(age)", "takes 3 to 3 argument"),
        ("col(name)", "col\\(\\) takes a column name in quotes"),
        ("x = 1", "not valid syntax"),
        ("a +" + " a +" * 1500 + " a", "longer than"),
    ],
)
def test_unsafe_or_unknown_expressions_fail_at_load(expr, message):
    with pytest.raises(ValidationError, match=message):
        Derive(column="out", expr=expr)


def test_deep_nesting_is_refused():
    with pytest.raises(ValueError, match="nested deeper"):
        parse_expression("-" * 60 + "1")


def test_constant_arithmetic_stays_fixed_width():
    # nested powers of literals cannot build a huge Python integer: numbers are int64
    value = parse_expression("((10 ** 64) ** 64) ** 64").evaluate(pd.DataFrame())
    assert value.dtype == "int64"


def test_string_repetition_through_columns_is_refused(people):
    with pytest.raises(ValueError, match="strings only support"):
        derive(people, "name * 1000000000")


def test_unknown_column_is_named_at_apply_and_in_output_columns(people):
    step = Derive(column="out", expr="height + 1")
    with pytest.raises(ValueError, match="height"):
        step.apply(people)
    with pytest.raises(ValueError, match="height"):
        step.output_columns(list(people.columns))
