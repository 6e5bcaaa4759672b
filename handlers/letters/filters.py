"""Template filters that turn language-neutral codes and records into words of one language.

They take the catalogue helpers from the render context (``pass_context``), because one
environment renders every language: the language is a property of the render, not of the
environment. A code without a catalogue entry raises, so no untranslated key slips through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

Row = list[str]


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _t(ctx: Context) -> Callable[..., str]:
    return ctx["t"]


@pass_context
def right_name(ctx: Context, code: str) -> str:
    return _t(ctx)(f"right.{code}")


@pass_context
def field_name(ctx: Context, code: str) -> str:
    return _t(ctx)(f"field.{code}")


@pass_context
def extension_reason(ctx: Context, code: str) -> str:
    return _t(ctx)(f"extension_reason.{code}")


@pass_context
def party_label(ctx: Context, party: Any) -> str:
    t = _t(ctx)
    if not party:
        return t("access_report.source_unknown")
    kind = t(f"party_kind.{_get(party, 'kind')}")
    name = _get(party, "name")
    return t("party.label", kind=kind, name=name) if name else kind


@pass_context
def change_row(ctx: Context, change: Any) -> Row:
    value = _get(change, "value")
    return [field_name(ctx, _get(change, "field")),
            value if value else _t(ctx)("common.removed")]


@pass_context
def field_row(ctx: Context, item: Any) -> Row:
    value = _get(item, "value")
    return [field_name(ctx, _get(item, "field")),
            value if value else _t(ctx)("common.not_stored")]


@pass_context
def source_row(ctx: Context, item: Any) -> Row:
    return [field_name(ctx, _get(item, "field")), party_label(ctx, _get(item, "source"))]


@pass_context
def order_row(ctx: Context, order: Any) -> Row:
    return [str(_get(order, "number")), ctx["fmt_date"](_get(order, "date")),
            _get(order, "description") or "–", ctx["fmt_money"](_get(order, "amount_cents"))]


@pass_context
def invoice_row(ctx: Context, invoice: Any) -> Row:
    return [str(_get(invoice, "number")), _get(invoice, "order_number") or "–",
            ctx["fmt_date"](_get(invoice, "issued")), ctx["fmt_date"](_get(invoice, "due")),
            ctx["fmt_money"](_get(invoice, "amount_cents")),
            _t(ctx)(f"invoice_status.{_get(invoice, 'status')}")]


@pass_context
def disclosure_row(ctx: Context, item: Any) -> Row:
    fields = _get(item, "fields") or []
    shown = (ctx["listing"]([field_name(ctx, f) for f in fields]) if fields
             else _t(ctx)("access_report.all_fields"))
    return [party_label(ctx, _get(item, "party")), shown,
            _t(ctx)(f"disclosure_purpose.{_get(item, 'purpose')}"),
            ctx["fmt_date"](_get(item, "date"))]


@pass_context
def flag_row(ctx: Context, flag: Any) -> Row:
    t = _t(ctx)
    return [t(f"flag.{_get(flag, 'name')}"), t("common.yes") if _get(flag, "value") else t(
        "common.no")]


@pass_context
def history_row(ctx: Context, change: Any) -> Row:
    return [field_name(ctx, _get(change, "field")), ctx["fmt_date"](_get(change, "changed_at"))]


@pass_context
def request_row(ctx: Context, request: Any) -> Row:
    """An earlier request of the requester's (access report, "our records")."""
    types = [right_name(ctx, t) for t in _get(request, "types") or []]
    return [str(_get(request, "case_id")), ctx["fmt_date"](_get(request, "received")),
            ctx["listing"](types), _t(ctx)(f"case_outcome.{_get(request, 'outcome')}")]


@pass_context
def record_category(ctx: Context, item: Any) -> str:
    """One kind of record we keep about the requester, with its count and retention."""
    params = {k: str(v) for k, v in dict(item).items() if k != "kind"}
    return _t(ctx)(f"our_records.{_get(item, 'kind')}", **params)


def _param(ctx: Context, key: str, value: Any) -> str:
    if key == "fields" and isinstance(value, list | tuple):
        return str(ctx["listing"]([field_name(ctx, f) for f in value]))
    if key == "types" and isinstance(value, list | tuple):
        return str(ctx["listing"]([right_name(ctx, f) for f in value]))
    if isinstance(value, date | datetime):
        return str(ctx["fmt_date"](value))
    if isinstance(value, str) and (key == "until" or key.endswith("_date")):
        try:
            return str(ctx["fmt_date"](date.fromisoformat(value)))
        except ValueError:
            return value
    if isinstance(value, str) and key == "field":
        return field_name(ctx, value)
    return str(value)


@pass_context
def explain(ctx: Context, reason: Any) -> str:
    """A reason (``{code, params}``) as a sentence; dates and field lists in the language."""
    code = _get(reason, "code")
    params = _get(reason, "params") or {}
    t = _t(ctx)
    key = f"reason.{code}"
    if params.get("until") is None and ctx["has_text"](f"{key}_no_date"):
        key = f"{key}_no_date"
    return t(key, **{k: _param(ctx, k, v) for k, v in params.items() if v is not None})


FILTERS: Mapping[str, Callable[..., Any]] = {
    "right_name": right_name,
    "field_name": field_name,
    "extension_reason": extension_reason,
    "party_label": party_label,
    "change_row": change_row,
    "field_row": field_row,
    "source_row": source_row,
    "order_row": order_row,
    "invoice_row": invoice_row,
    "disclosure_row": disclosure_row,
    "flag_row": flag_row,
    "history_row": history_row,
    "request_row": request_row,
    "record_category": record_category,
    "explain": explain,
}
