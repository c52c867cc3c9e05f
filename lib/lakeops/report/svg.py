"""Inline SVG written by hand: the building blocks of the report's charts.

The report's charts are bars, grids of cells, lines and markers; drawing them
needs coordinates, not a plotting library. :class:`Svg` writes the elements
(``rect``, ``line``, ``text``, ``polyline``, ``polygon``, markers) straight
into a string, :class:`Scale` maps values to pixels, :func:`nice_ticks` picks an
axis's ticks and :func:`legend` lays out a legend. Every text and tooltip goes
through :func:`markupsafe.escape`, so strings from the data (column names,
labels) are markup-safe; the result is :class:`markupsafe.Markup` that the
templates insert as is.

Sizes are CSS pixels. An ``<svg>`` carries its size and a ``viewBox``, so the
page's ``.chart svg{max-width:100%;height:auto}`` scales it down on a narrow
screen. Texts inherit the page's font; their widths, which the layouts need
before the browser draws them, are estimated by :func:`text_width`, on the wide
side (DejaVu Sans, the usual Linux fallback, is among the widest).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Colours of the chart furniture: text, axis lines, grid lines and muted notes.
TEXT_COLOUR, AXIS_COLOUR, GRID_COLOUR, MUTED_COLOUR = "#1f2933", "#52606d", "#e4e7eb", "#616e7c"
#: Font sizes (px): tick labels and notes; row labels and axis titles.
SMALL, NORMAL = 11, 12

# Advance widths in em of DejaVu Sans, by character class (the rest: 0.62).
_NARROW = set("iljI.,:;'|!`ft()[]{} ")
_WIDE = set("mwMW@%#&")
_DIGITS = set("0123456789")


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """An estimate of the width of ``text`` at ``size`` px, generous rather than short."""
    em = 0.0
    for char in text:
        if char in _NARROW:
            em += 0.34
        elif char in _WIDE:
            em += 0.92
        elif char in _DIGITS:
            em += 0.64
        elif char.isupper():
            em += 0.72
        else:
            em += 0.62
    return em * size * (1.08 if bold else 1.0)


def fit(text: str, size: float, width: float, *, bold: bool = False) -> str:
    """``text``, cut with an ellipsis to fit ``width`` (its tooltip keeps it whole)."""
    if text_width(text, size, bold=bold) <= width:
        return text
    while text and text_width(text + "…", size, bold=bold) > width:
        text = text[:-1]
    return text + "…"


def coord(value: float) -> str:
    """A coordinate, to a tenth of a pixel: short markup, no float noise."""
    text = f"{value:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def finite(value: object, default: float = 0.0) -> float:
    """``value`` as a float, or ``default`` for None, NaN, infinities and non-numbers."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def nice_ticks(low: float, high: float, count: int = 5, *, steps: Sequence[float] = (1, 2, 2.5, 5)) -> list[float]:
    """About ``count`` round ticks (``steps`` times a power of ten apart) from ``low`` to ``high``, both included."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else [0.0]
    span = high - low
    power = 10 ** math.floor(math.log10(span / max(count, 1)))
    # The smallest round step that gives at most a quarter more intervals than asked for.
    step = next(m * power for m in (*steps, 10) if span / (m * power) <= count * 1.25 + 1e-9)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    k = first
    while k * step <= high + step * 1e-9:
        ticks.append(round(k * step, 12) + 0.0)  # + 0.0: no -0.0
        k += 1
    return ticks


def tick_format(ticks: Sequence[float], *, percent: bool = False) -> Callable[[float], str]:
    """A formatter with as many decimals as the ticks' step needs (``percent``: 0.25 reads 25%)."""
    scale = 100.0 if percent else 1.0
    step = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=1.0) * scale
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > 1e-6 * abs(step):
        decimals += 1
    suffix = "%" if percent else ""
    if abs(round(step, decimals) - step) > 1e-6 * abs(step):  # a step too fine for 6 decimals
        return lambda value: f"{value * scale:.3g}{suffix}"

    def fmt(value: float) -> str:
        text = f"{value * scale:.{decimals}f}"
        return (text.lstrip("-") if float(text) == 0 else text) + suffix

    return fmt


@dataclass(frozen=True)
class Scale:
    """Maps ``lo``..``hi`` onto the pixels ``start``..``end`` (a y scale runs from the bottom up: start > end)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        share = (value - self.lo) / span if span else 0.0
        return self.start + share * (self.end - self.start)

    def clamped(self, value: float) -> float:
        """The pixel of ``value``, kept inside the scale's range."""
        low, high = sorted((self.start, self.end))
        return min(high, max(low, self(value)))


def _attrs(attrs: dict[str, object]) -> str:
    """``key="value"`` pairs, escaped; ``None`` left out, floats as coordinates, ``_`` in a key read as ``-``."""
    out = []
    for key, value in attrs.items():
        if value is None:
            continue
        text = coord(value) if isinstance(value, float) else str(value)
        out.append(f' {key.rstrip("_").replace("_", "-")}="{escape(text)}"')
    return "".join(out)


def _title(tip: str | None) -> str:
    return "" if tip is None else f"<title>{escape(tip)}</title>"


class Svg:
    """One ``<svg>`` document, written element by element.

    Args:
        width, height: its size in pixels.
        label: what it shows, for screen readers (``aria-label``).
        key: a name, unique on the page, for its ``id`` (``lk-<key>``).
    """

    def __init__(self, width: float, height: float, *, label: str, key: str) -> None:
        self.width, self.height = width, height
        self._head = (f'<svg xmlns="http://www.w3.org/2000/svg" id="lk-{escape(key)}" class="lk-chart"'
                      f' width="{coord(width)}" height="{coord(height)}" viewBox="0 0 {coord(width)} {coord(height)}"'
                      f' role="img" aria-label="{escape(label)}" font-size="{SMALL}" fill="{TEXT_COLOUR}">')  # fmt: skip
        self._parts: list[str] = []

    def markup(self) -> Markup:
        """The document: every text was escaped on the way in."""
        return Markup(self._head + "".join(self._parts) + "</svg>")

    def _element(self, tag: str, attrs: dict[str, object], tip: str | None = None, body: str = "") -> None:
        inner = _title(tip) + body
        self._parts.append(f"<{tag}{_attrs(attrs)}>{inner}</{tag}>" if inner else f"<{tag}{_attrs(attrs)}/>")

    @contextmanager
    def group(self, tip: str | None = None, **attrs: object) -> Iterator[None]:
        """A ``<g>`` around what is drawn inside the ``with``; ``tip`` is the tooltip of all of it."""
        self._parts.append(f"<g{_attrs(attrs)}>{_title(tip)}")
        try:
            yield
        finally:
            self._parts.append("</g>")

    def rect(self, x: float, y: float, width: float, height: float, fill: str, *, tip: str | None = None,
             **attrs: object) -> None:  # fmt: skip
        self._element("rect", {"x": float(x), "y": float(y), "width": float(max(width, 0.0)),
                               "height": float(max(height, 0.0)), "fill": fill, **attrs}, tip)  # fmt: skip

    def hover(self, x: float, y: float, width: float, height: float) -> None:
        """An invisible rectangle that catches the pointer, so that a group's tooltip shows over its whole area."""
        self.rect(x, y, width, height, "#fff", fill_opacity="0")

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, *, width: float = 1.0,
             dash: str | None = None, tip: str | None = None, **attrs: object) -> None:  # fmt: skip
        self._element("line", {"x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2), "stroke": stroke,
                               "stroke-width": float(width), "stroke-dasharray": dash, **attrs}, tip)  # fmt: skip

    def text(self, x: float, y: float, text: str, *, size: float = SMALL, anchor: str = "start",
             baseline: str = "middle", fill: str | None = None, bold: bool = False, rotate: float | None = None,
             extra: str = "", **attrs: object) -> None:  # fmt: skip
        """A text at (x, y): ``anchor`` start, middle or end; ``baseline`` middle, top or bottom of the text at y.

        ``extra`` is markup appended inside the element (a ``<tspan>`` from :func:`tspan`).
        """
        dy = {"middle": "0.35em", "top": "0.8em", "bottom": None}[baseline]
        self._element("text", {"x": float(x), "y": float(y), "dy": dy, "font-size": None if size == SMALL else size,
                               "text-anchor": None if anchor == "start" else anchor, "fill": fill,
                               "font-weight": "bold" if bold else None,
                               "transform": None if rotate is None else f"rotate({coord(rotate)} {coord(x)} {coord(y)})",
                               **attrs}, body=str(escape(text)) + extra)  # fmt: skip

    def polyline(self, points: Iterable[tuple[float, float]], stroke: str, *, width: float = 1.0,
                 dash: str | None = None, **attrs: object) -> None:  # fmt: skip
        self._element("polyline", {"points": _points(points), "fill": "none", "stroke": stroke,
                                   "stroke-width": float(width), "stroke-dasharray": dash,
                                   "stroke-linejoin": "round", **attrs})  # fmt: skip

    def polygon(self, points: Iterable[tuple[float, float]], fill: str, **attrs: object) -> None:
        self._element("polygon", {"points": _points(points), "fill": fill, **attrs})

    def marker(self, shape: str, x: float, y: float, size: float, colour: str, *, hollow: bool = False,
               edge: str | None = None, tip: str | None = None) -> None:  # fmt: skip
        """A marker of ``size`` px centred on (x, y); ``shape`` one of matplotlib's: o, v, ^, D, X, s, |.

        ``hollow``: white inside, ``colour`` edge; ``edge``: a thin edge of that colour around a filled marker.
        """
        r = size / 2
        fill = "#fff" if hollow else colour
        stroke: dict[str, object] = ({"stroke": colour, "stroke-width": 1.2} if hollow else
                                     {"stroke": edge, "stroke-width": 0.8} if edge else {})  # fmt: skip
        if shape == "o":
            self._element("circle", {"cx": float(x), "cy": float(y), "r": float(r), "fill": fill, **stroke}, tip)
        elif shape == "s":
            self._element("rect", {"x": float(x - r), "y": float(y - r), "width": float(size), "height": float(size),
                                   "fill": fill, **stroke}, tip)  # fmt: skip
        elif shape == "|":
            self._element("line", {"x1": float(x), "y1": float(y - r), "x2": float(x), "y2": float(y + r),
                                   "stroke": colour, "stroke-width": 2.0}, tip)  # fmt: skip
        else:
            self._element("polygon", {"points": _points(_shape(shape, x, y, r)), "fill": fill, **stroke}, tip)


def tspan(text: str, *, dx: float = 0.0, bold: bool = False, fill: str | None = None) -> str:
    """A ``<tspan>`` to pass as a text's ``extra``: ``text`` escaped, ``dx`` px after what comes before."""
    return f"<tspan{_attrs({'dx': float(dx) if dx else None, 'font-weight': 'bold' if bold else None, 'fill': fill})}>" \
           f"{escape(text)}</tspan>"  # fmt: skip


def _points(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{coord(x)},{coord(y)}" for x, y in points)


def _shape(shape: str, x: float, y: float, r: float) -> list[tuple[float, float]]:
    if shape == "v":
        return [(x - r, y - r * 0.8), (x + r, y - r * 0.8), (x, y + r)]
    if shape == "^":
        return [(x - r, y + r * 0.8), (x + r, y + r * 0.8), (x, y - r)]
    if shape == "D":
        return [(x, y - r), (x + r * 0.75, y), (x, y + r), (x - r * 0.75, y)]
    if shape == "X":  # a filled cross, its arms a third of its size wide
        a, b = r, r / 3
        return [(x - a, y - a + b), (x - a + b, y - a), (x, y - b), (x + a - b, y - a), (x + a, y - a + b), (x + b, y),
                (x + a, y + a - b), (x + a - b, y + a), (x, y + b), (x - a + b, y + a), (x - a, y + a - b), (x - b, y)]
    raise ValueError(f"unknown marker {shape!r}")


@dataclass(frozen=True)
class Key:
    """One legend entry: ``kind`` box (a filled square, ``edge`` around it), line, or a marker shape (o, v, ^, D, X).

    ``dash`` dashes a line; ``hollow`` draws a marker white inside.
    """

    kind: str
    colour: str
    label: str
    edge: str | None = None
    dash: str | None = None
    hollow: bool = False


#: A legend row's height and the width of a key's symbol.
LEGEND_ROW, _SYMBOL = 18, 22


def legend_width(keys: Sequence[Key]) -> float:
    """The width of ``keys`` in one row."""
    return sum(_key_width(key) for key in keys)


def legend_height(keys: Sequence[Key], width: float) -> float:
    """The height :func:`legend` takes at ``width``."""
    return len(_legend_rows(keys, width)) * LEGEND_ROW


def legend(svg: Svg, keys: Sequence[Key], x: float, y: float, width: float, *, align: str = "start") -> float:
    """Draw ``keys`` in rows from (x, y) (the top left), wrapping at ``width``; ``align`` end: right-aligned rows.

    Returns the height taken.
    """
    rows = _legend_rows(keys, width)
    for i, row in enumerate(rows):
        cx = x + (width - sum(w for _, w in row) if align == "end" else 0.0)
        cy = y + i * LEGEND_ROW + LEGEND_ROW / 2
        for key, w in row:
            _symbol(svg, key, cx, cy)
            svg.text(cx + _SYMBOL + 4, cy, key.label)
            cx += w
    return len(rows) * LEGEND_ROW


def _legend_rows(keys: Sequence[Key], width: float) -> list[list[tuple[Key, float]]]:
    rows: list[list[tuple[Key, float]]] = []
    used = math.inf
    for key in keys:
        w = _key_width(key)
        if used + w > width and used > 0:
            rows.append([])
            used = 0.0
        rows[-1].append((key, w))
        used += w
    return rows


def _key_width(key: Key) -> float:
    return _SYMBOL + 4 + text_width(key.label, SMALL) + 16


def _symbol(svg: Svg, key: Key, x: float, y: float) -> None:
    if key.kind == "box":
        svg.rect(x + 4, y - 6, 14, 12, key.colour, stroke=key.edge, stroke_width=0.8 if key.edge else None)
    elif key.kind == "line":
        svg.line(x, y, x + _SYMBOL, y, key.colour, width=1.6, dash=key.dash)
    else:
        svg.marker(key.kind, x + _SYMBOL / 2, y, 9.0, key.colour, hollow=key.hollow)
