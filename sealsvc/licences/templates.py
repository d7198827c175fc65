"""Licence templates: declarative layouts plus field schemas, loaded from JSON data.

A template is a directory ``<name>/`` holding ``template.json`` (layout and field schema)
and ``example.json`` (realistic data that renders). Adding a document type is a matter of
adding such a directory: no Python changes. The search path is ``$SEALSVC_TEMPLATES_DIR``
if set, else ``<data dir>/templates`` (operator additions) followed by the ``templates/``
directory shipped with the source tree; the first directory that has a name wins.

Two pydantic layers:

* :class:`TemplateSpec` checks the template file itself (unknown keys, a field element
  naming an undeclared field, a position off the page) so a broken template is reported
  when it is loaded, not half-way through rendering a licence.
* :meth:`Template.validate_data` checks a licence's data against a pydantic model built
  from the template's field schema (``pydantic.create_model``): required fields, maximum
  lengths, patterns such as the 18-character 统一社会信用代码 with its GB 32100 check
  character, ISO dates and money amounts. Errors name the field by label and key.

Coordinates are millimetres from the page's lower-left corner, the convention of
``sealctl sign --at`` and :class:`sealsvc.pades.Placement`, so a seal position copied from
a template means the same thing everywhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import ErrorDetails

from sealsvc import creditcode
from sealsvc.config import Settings
from sealsvc.errors import InvalidInput, NotFound
from sealsvc.licences.identifier import check_type_code
from sealsvc.seals import KIND_CODES

__all__ = [
    "COMPUTED_FIELDS",
    "IDENTIFIER_FIELD",
    "TEMPLATES_ENV",
    "FieldSpec",
    "LicenceTypeSpec",
    "PaperFields",
    "Template",
    "TemplateSpec",
    "display_value",
    "list_templates",
    "load_template",
    "masked",
    "template_dirs",
]

TEMPLATES_ENV = "SEALSVC_TEMPLATES_DIR"
BUNDLED_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
"""The templates shipped with the source tree (``templates/`` at the repository root)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_MONEY = re.compile(r"^\d{1,13}(\.\d{1,2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the field schema -----------------------------------------------------------------------


class FieldSpec(_Strict):
    """One field of a licence's data: what it is called, its type and its limits."""

    name: Annotated[str, StringConstraints(pattern=_NAME.pattern)]
    label: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    type: Literal["string", "date", "money"] = "string"
    required: bool = True
    max_length: Annotated[int, Field(ge=1, le=5000)] = 200
    pattern: str | None = None
    pattern_hint: str | None = None
    """What the pattern means, for the error message ("18 位统一社会信用代码")."""
    checksum: Literal["gb32100"] | None = None
    """An extra check: ``gb32100`` = the check character of a 统一社会信用代码."""
    unit: str | None = None
    """For money: the unit printed after the amount (万元, 元)."""

    @model_validator(mode="after")
    def _pattern_compiles(self) -> FieldSpec:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern of field {self.name!r} is invalid: {exc}") from None
        return self


# --- the layout ------------------------------------------------------------------------------

IDENTIFIER_FIELD = "@identifier"
COMPUTED_FIELDS = {IDENTIFIER_FIELD: "电子证照标识"}
"""Values a field element may show that are not data but computed at issue, with their
labels: ``@identifier`` is the GB/T 36904 identifier (needs ``licence_type``). The ``@``
keeps them apart from data field names."""

Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
FontFace = Literal["song", "hei"]
Mm = Annotated[float, Field(ge=0, le=2000)]


class TextElement(_Strict):
    """Static text: a title, a heading, a footer note."""

    type: Literal["text"]
    text: Annotated[str, StringConstraints(min_length=1)]
    x_mm: Mm
    y_mm: Mm
    size_pt: Annotated[float, Field(gt=0, le=200)] = 12
    font: FontFace = "song"
    align: Literal["left", "center", "right"] = "left"
    char_space_pt: float = 0
    colour: Colour = "#000000"


class FieldElement(_Strict):
    """A field's value, optionally with its label, wrapped inside a box.

    The first baseline is at ``y_mm``; further lines go down by ``leading`` × size.  The
    label is spread over ``label_width_mm`` the way printed certificates justify
    "名　　称". The box holds ``max_lines`` lines, or, with ``height_mm``, as many as fit
    in that height at the current size: text that does not fit at ``size_pt`` is set
    smaller, down to ``min_size_pt``, and refused beyond that.
    """

    type: Literal["field"]
    field: str
    x_mm: Mm
    y_mm: Mm
    width_mm: Annotated[float, Field(gt=0, le=2000)]
    size_pt: Annotated[float, Field(gt=0, le=200)] = 12
    min_size_pt: Annotated[float, Field(gt=0, le=200)] | None = None
    max_lines: Annotated[int, Field(ge=1, le=100)] = 1
    height_mm: Annotated[float, Field(gt=0, le=2000)] | None = None
    leading: Annotated[float, Field(ge=1, le=3)] = 1.4
    font: FontFace = "song"
    align: Literal["left", "center", "right"] = "left"
    label: str | None = None
    label_x_mm: Mm | None = None
    label_width_mm: Mm | None = None
    label_font: FontFace = "hei"
    colour: Colour = "#000000"

    @model_validator(mode="after")
    def _label_position(self) -> FieldElement:
        if self.label is not None and self.label_x_mm is None:
            raise ValueError(f"field element {self.field!r}: a label needs label_x_mm")
        return self

    def lines_at(self, size_pt: float) -> int:
        """How many lines the box holds at ``size_pt``."""
        if self.height_mm is None:
            return self.max_lines
        usable = self.height_mm * 72 / 25.4 - size_pt
        return max(1, int(usable // (size_pt * self.leading)) + 1)


class NumberElement(_Strict):
    """The licence number (and version if above 1), e.g. "编号：ZZYYZZ2024…"."""

    type: Literal["number"]
    prefix: str = "编号："
    x_mm: Mm
    y_mm: Mm
    size_pt: Annotated[float, Field(gt=0, le=200)] = 10
    font: FontFace = "song"
    align: Literal["left", "center", "right"] = "left"


class RectElement(_Strict):
    """A rectangle outline; ``double`` draws a second one inside, as certificate frames do."""

    type: Literal["rect"]
    x_mm: Mm
    y_mm: Mm
    width_mm: Mm
    height_mm: Mm
    line_width_pt: Annotated[float, Field(gt=0, le=20)] = 1
    colour: Colour = "#000000"
    double_gap_mm: Mm | None = None


class LineElement(_Strict):
    """A straight line, e.g. under a title or between sections."""

    type: Literal["line"]
    x1_mm: Mm
    y1_mm: Mm
    x2_mm: Mm
    y2_mm: Mm
    line_width_pt: Annotated[float, Field(gt=0, le=20)] = 0.8
    colour: Colour = "#000000"


class EmblemElement(_Strict):
    """Placeholder for the national emblem (国徽): the real artwork is not ours to ship."""

    type: Literal["emblem"]
    x_mm: Mm
    y_mm: Mm
    diameter_mm: Annotated[float, Field(gt=0, le=200)] = 24
    colour: Colour = "#c8a03c"


Element = Annotated[
    TextElement | FieldElement | NumberElement | RectElement | LineElement | EmblemElement,
    Field(discriminator="type"),
]


class Spot(_Strict):
    """A square on a page, given by its centre: where a seal or the QR code goes."""

    page: Annotated[int, Field(ge=1)] = 1
    x_mm: Mm
    y_mm: Mm
    size_mm: Annotated[float, Field(ge=5, le=100)]


class QrSpot(Spot):
    caption: str | None = "扫码核验"


class PaperFields(_Strict):
    """Which fields identify the paper copy; the QR page shows them to whoever holds its code.

    A citizen matches the page against the paper by the holder, the holder's code and the
    date printed on it; the code is shown partly masked (see :func:`masked`).
    """

    holder: str
    """The holder's name (企业名称, 申请人, 建设单位, 权利人)."""
    holder_id: str | None = None
    """The holder's 统一社会信用代码 or other identifier, if the template has one."""
    issue_date: str
    """The date printed as the issue date (a ``date`` field)."""

    def names(self) -> list[str]:
        return [n for n in (self.holder, self.holder_id, self.issue_date) if n is not None]


class LicenceTypeSpec(_Strict):
    """The licence type as the national 电子证照 standards name it (GB/T 36903, GB/T 36904)."""

    code: str
    """证照类型代码: the 统一社会信用代码 of the body defining the type and 3 characters
    numbering its types (21 in all); the first field of every identifier of this template."""
    example: bool = False
    """The code is an example, not one assigned by the defining body: a deployment
    replaces it (and sets this to false) before issuing licences that count."""
    holder_id_type: str | None = None
    """What kind of code ``paper_fields.holder_id`` is (持证主体代码类型), e.g.
    统一社会信用代码; required when the template has a holder_id."""
    validity_field: str | None = None
    """A text field stating the validity period as ``<start>至<end>`` (dates as
    2024年03月12日 or 2024-03-12, the end may be 长期). Without one, or when the field
    says only 长期, the licence is valid from its issue date, 长期."""

    @model_validator(mode="after")
    def _code_checks(self) -> LicenceTypeSpec:
        try:
            check_type_code(self.code)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return self


def masked(value: str, keep: tuple[int, int] = (6, 4)) -> str:
    """``914101********K2XR``: enough to match a paper copy, not enough to copy the code.

    ``keep`` is how many characters stay visible at each end of a value of 12 or more
    (an ID number keeps 4 and 4: :func:`sealsvc.identity.mask_id_number`).
    """
    keep_start, keep_end = keep if len(value) >= 12 else (1, 1)
    if len(value) <= keep_start + keep_end:
        return value[:1] + "*" * (len(value) - 1)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + "*" * hidden + value[-keep_end:]


class PageSpec(_Strict):
    width_mm: Annotated[float, Field(ge=50, le=2000)]
    height_mm: Annotated[float, Field(ge=50, le=2000)]


class TemplateSpec(_Strict):
    """The content of ``template.json``."""

    format: Literal["sealsvc-template/1"]
    title: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    description: str = ""
    paper_fields: PaperFields | None = None
    """Fields the QR page shows to match the paper (none when a template declares none)."""
    number_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]
    """Start of generated licence numbers: ``<prefix><yyyymmdd><8 digits>``."""
    issuer_field: str
    """The field naming the issuing authority (PDF author, verification page). It must name
    the departments whose seals are on the licence (see :mod:`sealsvc.licences.issuer`)."""
    seal_kinds: Annotated[list[str], Field(min_length=1)]
    """The seal kinds (:data:`sealsvc.seals.KIND_CODES`) that may seal this document: a
    licence is issued under the issuing authority's 公章 or a seal made for that purpose,
    never, say, a 合同专用章. Why each bundled template allows what: ``docs/licence-issuers.md``."""
    page: PageSpec
    fields: Annotated[list[FieldSpec], Field(min_length=1)]
    elements: list[Element]
    seals: Annotated[list[Spot], Field(min_length=1)]
    """Where the 1st, 2nd, … seal goes; the first overlaps the issuing-authority line."""
    qr: QrSpot
    licence_type: LicenceTypeSpec | None = None
    """GB/T 36903/36904 type data; without it licences of this template get no identifier."""

    @model_validator(mode="after")
    def _consistent(self) -> TemplateSpec:
        names = [f.name for f in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"fields declared twice: {', '.join(duplicates)}")
        declared = set(names)
        computed = set(COMPUTED_FIELDS) if self.licence_type is not None else set()
        for element in self.elements:
            if isinstance(element, FieldElement) and element.field not in declared | computed:
                if element.field in COMPUTED_FIELDS:
                    raise ValueError(f"element shows {element.field!r}, which needs licence_type")
                raise ValueError(f"element shows undeclared field {element.field!r}")
        licence_type = self.licence_type
        if licence_type is not None:
            if licence_type.validity_field not in (None, *declared):
                raise ValueError(
                    f"licence_type.validity_field {licence_type.validity_field!r} "
                    "is not a declared field"
                )
            has_holder_id = self.paper_fields is not None and self.paper_fields.holder_id
            if has_holder_id and not licence_type.holder_id_type:
                raise ValueError(
                    "licence_type.holder_id_type must say what paper_fields.holder_id is"
                )
        if self.issuer_field not in declared:
            raise ValueError(f"issuer_field {self.issuer_field!r} is not a declared field")
        for name in self.paper_fields.names() if self.paper_fields else []:
            if name not in declared:
                raise ValueError(f"paper_fields names undeclared field {name!r}")
        unknown = [k for k in self.seal_kinds if k not in KIND_CODES]
        if unknown:
            raise ValueError(
                f"seal_kinds: unknown kind {unknown[0]!r} (known: {', '.join(KIND_CODES)})"
            )
        if len(set(self.seal_kinds)) != len(self.seal_kinds):
            raise ValueError("seal_kinds names a kind twice")
        for spot in [*self.seals, self.qr]:
            if spot.page != 1:
                raise ValueError("templates have one page: seal and QR spots must be on page 1")
            half = spot.size_mm / 2
            if not (
                half <= spot.x_mm <= self.page.width_mm - half
                and half <= spot.y_mm <= self.page.height_mm - half
            ):
                raise ValueError(f"spot at ({spot.x_mm}, {spot.y_mm}) mm is off the page")
        return self


# --- data validation ------------------------------------------------------------------------


def _check_gb32100(value: str) -> str:
    if not creditcode.is_valid(value):
        raise ValueError("the check character (GB 32100-2015) is wrong")
    return value


def _check_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a calendar date (YYYY-MM-DD)") from None
    return value


def _money(value: Any) -> str:
    """Accept an integer or a decimal string with at most 2 places; return canonical text."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError('an amount must be an integer or a decimal string such as "5000.50"')
    text = str(value).strip()
    if not _MONEY.match(text):
        raise ValueError("an amount must be digits with at most two decimal places")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    return str(int(amount)) if amount == amount.to_integral_value() else f"{amount:.2f}"


def _annotation(spec: FieldSpec) -> Any:
    if spec.type == "money":
        return Annotated[str, BeforeValidator(_money)]
    constraints = StringConstraints(
        strip_whitespace=True, min_length=1, max_length=spec.max_length, pattern=spec.pattern
    )
    validators: list[Any] = [constraints]
    if spec.type == "date":
        validators = [StringConstraints(strip_whitespace=True, pattern=_DATE.pattern)]
        validators.append(AfterValidator(_check_date))
    if spec.checksum == "gb32100":
        validators.append(AfterValidator(_check_gb32100))
    return Annotated[str, *validators]


def display_value(spec: FieldSpec, value: str) -> str:
    """How a validated value is printed: dates as 2024年03月15日, money with its unit."""
    if spec.type == "date":
        day = date.fromisoformat(value)
        return f"{day.year}年{day.month:02d}月{day.day:02d}日"
    if spec.type == "money":
        return f"{value}{spec.unit or '元'}"
    return value


def _describe(error: ErrorDetails, specs: Mapping[str, FieldSpec]) -> str:
    location = error.get("loc") or ("?",)
    key = str(location[0])
    spec = specs.get(key)
    kind = error.get("type", "")
    if spec is None:
        if kind == "extra_forbidden":
            return f"unknown field {key!r} (known: {', '.join(specs)})"
        return f"{key}: {error.get('msg')}"
    who = f"{spec.label} ({spec.name})"
    value = error["input"]
    if kind == "missing":
        return f"{who} is required"
    if kind == "string_too_short":
        return f"{who} must not be empty"
    if kind == "string_too_long":
        return f"{who} has {len(value)} characters; at most {spec.max_length} are allowed"
    if kind == "string_pattern_mismatch":
        if spec.type == "date":
            return f"{who} must be a date YYYY-MM-DD, got {value!r}"
        hint = spec.pattern_hint or f"the pattern {spec.pattern}"
        return f"{who} must be {hint}, got {value!r}"
    if kind == "string_type":
        return f"{who} must be text, got {type(value).__name__}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{who}: {message}"


@dataclass(frozen=True, eq=False)
class Template:
    """A loaded, checked template."""

    name: str
    directory: Path
    spec: TemplateSpec

    @property
    def title(self) -> str:
        return self.spec.title

    @cached_property
    def fields(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.spec.fields}

    def label(self, name: str) -> str:
        """The label of a data field or of a computed one (:data:`COMPUTED_FIELDS`)."""
        return COMPUTED_FIELDS[name] if name in COMPUTED_FIELDS else self.fields[name].label

    @cached_property
    def data_model(self) -> type[BaseModel]:
        """The pydantic model of this template's data, built from the field schema."""
        definitions: dict[str, Any] = {}
        for spec in self.spec.fields:
            annotation = _annotation(spec)
            if spec.required:
                definitions[spec.name] = (annotation, ...)
            else:
                definitions[spec.name] = (annotation | None, None)
        return create_model(
            f"LicenceData_{self.name}",
            __config__=ConfigDict(extra="forbid", frozen=True),
            **definitions,
        )

    def validate_data(self, data: Any) -> dict[str, str]:
        """Check licence data; return the canonical values (absent optional fields omitted).

        Raises :class:`InvalidInput` listing every problem, each naming the field.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput(f"licence data must be a JSON object, not {type(data).__name__}")
        try:
            model = self.data_model.model_validate(dict(data))
        except ValidationError as exc:
            problems = [_describe(error, self.fields) for error in exc.errors()]
            raise InvalidInput(f"{self.title} data: " + "; ".join(problems)) from None
        return {k: v for k, v in model.model_dump().items() if v is not None}

    def display(self, data: Mapping[str, str]) -> dict[str, str]:
        """The printed form of every present field (see :func:`display_value`)."""
        return {k: display_value(self.fields[k], v) for k, v in data.items()}

    def paper(self, data: Mapping[str, str]) -> list[tuple[str, str]]:
        """(label, printed value) of the :class:`PaperFields` present in ``data``."""
        declared = self.spec.paper_fields
        if declared is None:
            return []
        shown = []
        for name in (n for n in declared.names() if n in data):
            value = display_value(self.fields[name], data[name])
            hide = name == declared.holder_id
            shown.append((self.fields[name].label, masked(value) if hide else value))
        return shown

    @cached_property
    def example(self) -> dict[str, Any]:
        """The template's ``example.json`` (raw; validate it like any other data)."""
        return _read_json(self.directory / "example.json")

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.spec.description,
            "directory": str(self.directory),
            "page_mm": [self.spec.page.width_mm, self.spec.page.height_mm],
            "seal_spots": len(self.spec.seals),
            "issuer_field": self.spec.issuer_field,
            "seal_kinds": list(self.spec.seal_kinds),
            "licence_type": self.spec.licence_type.model_dump(exclude_none=True)
            if self.spec.licence_type
            else None,
            "fields": [f.model_dump(exclude_none=True) for f in self.spec.fields],
        }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not readable JSON: {exc}") from None


def template_dirs(settings: Settings | None = None) -> list[Path]:
    """Directories searched for templates, first match wins (see the module docstring)."""
    environ = settings.environ if settings is not None else os.environ
    if environ.get(TEMPLATES_ENV):
        return [Path(environ[TEMPLATES_ENV])]
    dirs = [settings.data_dir / "templates"] if settings is not None else []
    return [*dirs, BUNDLED_TEMPLATES]


_cache: dict[tuple[Path, int], Template] = {}


def load_template(name: str, settings: Settings | None = None) -> Template:
    """The template called ``name``; :class:`NotFound` or :class:`InvalidInput` if not usable."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):  # ``$`` allows a final \n
        raise InvalidInput(
            f"template name {name!r} is invalid (lower-case letters, digits and _ only)"
        )
    for directory in template_dirs(settings):
        path = directory / name / "template.json"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            continue
        cached = _cache.get((path, mtime))
        if cached is not None:
            return cached
        try:
            spec = TemplateSpec.model_validate(_read_json(path))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidInput(
                f"template {path} is invalid at {where or 'top level'}: {first['msg']}"
                + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
            ) from None
        template = Template(name=name, directory=path.parent, spec=spec)
        _cache[(path, mtime)] = template
        return template
    searched = ", ".join(str(d) for d in template_dirs(settings))
    raise NotFound(f"no template named {name!r} (searched {searched})")


def list_templates(settings: Settings | None = None) -> list[Template]:
    """Every template on the search path, by name."""
    names: set[str] = set()
    for directory in template_dirs(settings):
        if directory.is_dir():
            names.update(
                p.parent.name
                for p in directory.glob("*/template.json")
                if _NAME.match(p.parent.name)
            )
    return [load_template(name, settings) for name in sorted(names)]
