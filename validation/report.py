"""HTML report of a gate's result, rendered by Great Expectations' own Data Docs renderer.

Our gate results are GE's ``ExpectationSuiteValidationResult`` as JSON, so they are rebuilt
into GE's objects and rendered with GE 1.24's ``ValidationResultsPageRenderer`` and
``DefaultJinjaPageView``: the page a GE user knows (grouped by column, failed-only filter).
Two adaptations: GE's template needs an exception's traceback as a string (ours is null: the
evaluator raises no traceback worth showing), and the gate's name is passed as the run name.
The page loads Bootstrap and GE's styles from CDNs, as GE's Data Docs do; offline it is
unstyled but complete.

Where GE cannot render a result (an expectation type GE does not know, a shape its templates
trip on), the compact static page of ``report_static`` is written instead, with the same
content. GE is imported here, lazily, when a page is rendered (seconds the first time:
``benchmarks/RESULTS.md``), never on the hot path.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from assay.validation.report_static import static_html

log = logging.getLogger(__name__)


def render_html(ge_result: dict[str, Any]) -> str:
    """The report page of one gate's GE-shaped result: GE's renderer, else our static page."""
    try:
        return _ge_html(ge_result)
    except MemoryError:
        raise
    # Broad on purpose: the report must not fail a run, and GE's renderer trips on shapes it
    # does not know with its own errors but also TypeError, KeyError and AttributeError
    except Exception as exc:
        log.info("GE's renderer could not render gate %r (%s: %s); static report written",
                 (ge_result.get("meta") or {}).get("gate"), type(exc).__name__, exc)
        return static_html(ge_result)


def _ge_html(ge_result: dict[str, Any]) -> str:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        document = ValidationResultsPageRenderer().render(to_ge(ge_result))
        return DefaultJinjaPageView().render(document)


def to_ge(ge_result: dict[str, Any]) -> Any:
    """GE's ``ExpectationSuiteValidationResult`` for our result dict (GE imported here)."""
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    results = []
    for item in ge_result.get("results") or []:
        exception = dict(item.get("exception_info") or {})
        if exception.get("raised_exception") and exception.get("exception_traceback") is None:
            exception["exception_traceback"] = exception.get("exception_message") or ""
        results.append(ExpectationValidationResult(
            success=item.get("success"),
            expectation_config=ExpectationConfiguration(**item["expectation_config"]),
            result=item.get("result") or {},
            meta=item.get("meta") or {},
            exception_info=exception,
        ))
    meta = dict(ge_result.get("meta") or {})
    meta.setdefault("run_id", {"run_name": f"gate {meta.get('gate') or ''}".strip()})
    return ExpectationSuiteValidationResult(
        success=bool(ge_result.get("success")),
        results=results,
        suite_name=str(ge_result.get("suite_name") or "suite"),
        suite_parameters=ge_result.get("suite_parameters") or {},
        statistics=ge_result.get("statistics") or {},
        meta=meta,
    )
