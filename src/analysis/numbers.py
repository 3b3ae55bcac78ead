"""Parse numbers, units and qualifiers as Chinese analysts write them.

``parse_value("超4,000")`` → 4000 with qualifier ``>``; ``"1.2万"`` → 12000; ``"２０%"`` → 20 with
unit ``%``; ``"5.6倍"`` → 5.6 with unit ``倍``; ``"−3.5"`` → -3.5; ``"六成"`` → 6 with unit ``成``.
Units are normalised to one base unit per dimension (亿元 → 元 × 1e8); qualifier words
(超/突破/逾/近/约/余/不低于/…) map to canonical qualifiers that become bounds.

Chinese numerals (六, 一千三百) are converted with ``cn2an``; full-width digits with Unicode
NFKC normalisation. Only the thin layer of Chinese statistical conventions is written here,
because no library knows that 增长5.6倍 means ×6.6 or that 30余家 means (30, 40).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass


# unit → (base unit, factor to base, dimension)
UNITS: dict[str, tuple[str, float, str]] = {
    "元": ("元", 1.0, "money"), "千元": ("元", 1e3, "money"), "万元": ("元", 1e4, "money"),
    "百万元": ("元", 1e6, "money"), "千万元": ("元", 1e7, "money"), "亿元": ("元", 1e8, "money"),
    "万亿元": ("元", 1e12, "money"),
    "辆": ("辆", 1.0, "vehicles"), "万辆": ("辆", 1e4, "vehicles"),
    "台": ("台", 1.0, "units"), "万台": ("台", 1e4, "units"),
    "台(套)": ("台(套)", 1.0, "units_sets"), "万台(套)": ("台(套)", 1e4, "units_sets"),
    "套": ("台(套)", 1.0, "units_sets"), "万套": ("台(套)", 1e4, "units_sets"),
    "家": ("家", 1.0, "enterprises"), "户": ("家", 1.0, "enterprises"),
    "个": ("个", 1.0, "items"), "项": ("个", 1.0, "items"), "条": ("条", 1.0, "chains"),
    "人": ("人", 1.0, "persons"), "万人": ("人", 1e4, "persons"),
    "吨": ("吨", 1.0, "tonnes"), "t": ("吨", 1.0, "tonnes"), "T": ("吨", 1.0, "tonnes"),
    "万吨": ("吨", 1e4, "tonnes"),
    "%": ("%", 1.0, "percent"), "成": ("%", 10.0, "percent"),
    "百分点": ("百分点", 1.0, "pp"), "个百分点": ("百分点", 1.0, "pp"),
    "倍": ("倍", 1.0, "multiple"),
    "年": ("年", 1.0, "years"),
    "位": ("位", 1.0, "rank"), "名": ("位", 1.0, "rank"),
}

#: Canonical qualifiers. What each means for bounds is computed in ``analysis.data.bounds_array``
#: and said to readers in the message catalogs (``qualifiers:``).
QUALIFIERS = ("exact", ">", "≥", "<", "≤", "≈", "近", "余")

QUALIFIER_WORDS: dict[str, str] = {
    "": "exact", "exact": "exact", "=": "exact", "达到": "exact", "达": "exact", "为": "exact",
    "实现": "exact",
    ">": ">", "gt": ">", "超": ">", "超过": ">", "突破": ">", "逾": ">", "以上": ">", "多": ">",
    "高于": ">", "多于": ">", "more than": ">",
    "≥": "≥", ">=": "≥", "ge": "≥", "不低于": "≥", "至少": "≥", "不少于": "≥", "at least": "≥",
    "<": "<", "lt": "<", "不到": "<", "低于": "<", "少于": "<", "less than": "<",
    "≤": "≤", "<=": "≤", "le": "≤", "不超过": "≤", "以内": "≤", "以下": "≤", "至多": "≤",
    "不高于": "≤", "at most": "≤",
    "≈": "≈", "~": "≈", "approx": "≈", "approximately": "≈", "约": "≈", "左右": "≈",
    "大约": "≈", "约为": "≈", "上下": "≈", "about": "≈",
    "近": "近", "接近": "近", "将近": "近", "near": "近",
    "余": "余", "多余": "余",
}

_PREFIX_WORDS = sorted(
    ["超过", "超", "突破", "逾", "不低于", "至少", "不少于", "不到", "低于", "少于", "不超过",
     "至多", "不高于", "约为", "大约", "约", "接近", "将近", "近", "达到", "达", "高于", "多于"],
    key=len, reverse=True)
_SUFFIX_WORDS = ["以上", "以内", "以下", "左右", "上下", "余", "多"]
_MULTIPLIERS = [("万亿", 1e12), ("百万", 1e6), ("千万", 1e7), ("亿", 1e8), ("万", 1e4), ("千", 1e3)]
_VALUE_UNITS = ["%", "倍", "成", "个百分点", "百分点"]
_ARABIC = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")
_CHINESE_NUMERAL = re.compile(r"^[零〇一二两三四五六七八九十百千万亿点]+$")


@dataclass(frozen=True)
class ParsedNumber:
    """A number read from text: value (multiplier applied), the qualifier and unit it carried,
    and half the width of its published rounding (0.5 in the last stated digit)."""

    value: float
    qualifier: str | None = None
    unit: str | None = None
    half_width: float = 0.0
    round_step: float = 1.0


class NumberFormatError(ValueError):
    """Raised when text cannot be read as a number; the message says what was found."""


def normalize_text(text: str) -> str:
    """NFKC (full-width → ASCII), unify minus signs, strip spaces."""
    s = unicodedata.normalize("NFKC", str(text))
    s = s.replace("\u2212", "-").replace("\u2013", "-").replace("\ufe63", "-")
    return re.sub(r"\s+", "", s)


def normalize_unit(unit: str) -> str:
    return normalize_text(unit)


def unit_info(unit: str) -> tuple[str, float, str] | None:
    """(base unit, factor, dimension) for a unit as written, or None if unknown."""
    return UNITS.get(normalize_unit(unit))


def canonical_qualifier(word: str) -> str | None:
    """Canonical qualifier for a symbol or Chinese word (``超`` → ``>``), None if unknown."""
    key = normalize_text(word).lower() if word is not None else ""
    if key in QUALIFIER_WORDS:
        return QUALIFIER_WORDS[key]
    # NFKC turns ≥ into ≥ already; also accept the raw symbols
    return QUALIFIER_WORDS.get(str(word).strip())


def _step_of(digits: str, decimals: str | None) -> float:
    """Place value of the last significant digit: 30 → 10, 1300 → 100, 5.6 → 0.1, 5 → 1."""
    if decimals:
        return 10.0 ** -len(decimals)
    stripped = digits.lstrip("+-").replace(",", "")
    zeros = len(stripped) - len(stripped.rstrip("0"))
    if zeros == len(stripped):  # "0"
        return 1.0
    return 10.0 ** zeros


def parse_value(text: str) -> ParsedNumber:
    """Read one number as written in Chinese statistics.

    Args:
        text: e.g. ``"4,000"``, ``"４０００"``, ``"1.2万"``, ``"20%"``, ``"5.6倍"``, ``"−3.5"``,
            ``"超4000"``, ``"30余"``, ``"六成"``.

    Returns:
        ParsedNumber with the multiplier applied and the qualifier/unit found in the text.

    Raises:
        NumberFormatError: when the text is not a number in any accepted form.
    """
    raw = "" if text is None else str(text)
    s = normalize_text(raw)
    if not s:
        raise NumberFormatError("an empty cell")
    qualifier = None
    for w in _PREFIX_WORDS:
        if s.startswith(w) and len(s) > len(w):
            qualifier = QUALIFIER_WORDS[w]
            s = s[len(w):]
            break
    unit = None
    for _ in range(2):  # "20%左右" and "30余%" both occur
        for w in _SUFFIX_WORDS:
            if s.endswith(w) and len(s) > len(w):
                q = QUALIFIER_WORDS[w]
                if qualifier is not None and qualifier != q:
                    raise NumberFormatError(f"two qualifiers in {raw!r}")
                qualifier = q
                s = s[: -len(w)]
                break
        if unit is None:
            for u in _VALUE_UNITS:
                if s.endswith(u) and len(s) > len(u):
                    unit = "百分点" if u == "个百分点" else u
                    s = s[: -len(u)]
                    break
    multiplier = 1.0
    m = _ARABIC.match(s)
    if not m:
        for word, factor in _MULTIPLIERS:
            if s.endswith(word) and _ARABIC.match(s[: -len(word)]):
                multiplier, s = factor, s[: -len(word)]
                m = _ARABIC.match(s)
                break
    if m:
        if "," in s and not re.match(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$", s):
            raise NumberFormatError(f"{raw!r} (misplaced thousands separator)")
        number = float(s.replace(",", ""))
        step = _step_of(s.split(".")[0], m.group(1)) * multiplier
        half = 0.5 * (10.0 ** -len(m.group(1)) if m.group(1) else 1.0) * multiplier
        return ParsedNumber(number * multiplier, qualifier, unit, half, step)
    if _CHINESE_NUMERAL.match(s) and s not in ("点",):
        try:
            import cn2an  # imported when needed: 0.1 s, paid by every kernel otherwise
            # a bare 千/万 ("逾千亿") means one thousand; cn2an wants the 一 written
            number = float(cn2an.cn2an("一" + s if s[0] in "十百千万亿" else s, "smart"))
        except (ValueError, KeyError) as exc:  # cn2an raises ValueError on malformed numerals
            raise NumberFormatError(f"{raw!r} (not a Chinese numeral)") from exc
        digits = str(int(number)) if number == int(number) else str(number)
        step = _step_of(digits, None) if number == int(number) else 0.1
        return ParsedNumber(number, qualifier, unit, 0.5 * step, step)
    raise NumberFormatError(repr(raw))


def format_number(x: float, decimals: int = 1, lang: str = "zh") -> str:
    """Trailing zeros dropped, thousands grouped as the language's message catalog says
    (``number.thousands``: none in Chinese, as 统计公报 write 4000亿元; commas in English).

    >>> format_number(4000.0), format_number(4000.0, lang="en"), format_number(47.50)
    ('4000', '4,000', '47.5')
    """
    from .messages import messages
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", messages(lang).get("number", {}).get("thousands", ",")).replace("-", "−")


def display_scale(base_unit: str, magnitude: float, lang: str = "zh") -> tuple[str, float]:
    """The reader's unit for a base unit and magnitude: (亿元, 1e8) for 4e11 元; (' bn yuan', 1e9) in English.

    The display units of each language are in its message catalog (``units:``).
    """
    from .messages import messages
    for name, factor in messages(lang).get("units", {}).get(base_unit, []):
        if abs(magnitude) >= factor or factor == 1:
            return name, float(factor)
    return base_unit, 1.0


def describe(value: float, lower: float, upper: float, unit: str, *, lang: str = "zh",
             decimals: int = 1, qualifier: str = "") -> str:
    """A bounded figure in reader's words (patterns ``bounds.*`` of the message catalog).

    >>> describe(47.5, 0, 47.51, "%")
    '不超过47.5%'
    >>> describe(4e11, 4e11, math.inf, "元", lang="en")
    'more than 400 bn yuan'

    exact (bounds within display rounding) → the number; open above → 超过/more than; open
    below → 不超过/at most; a finite interval wider than display rounding → 约 X（Y–Z）.
    """
    from .messages import messages
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    msg = messages(lang)
    name, factor = display_scale(unit, value, lang)
    if factor >= 1e9 and abs(value / factor) < 100:
        decimals = max(decimals, 2)  # 129.2亿元 is 12.92 bn yuan, not 12.9

    def fmt(x: float) -> str:
        return format_number(x / factor, decimals, lang)

    v = fmt(value)
    lo_same = math.isfinite(lower) and fmt(lower) == v
    hi_same = math.isfinite(upper) and fmt(upper) == v
    lo_open = not math.isfinite(lower) or (lower <= 0 < value and not lo_same)
    hi_open = not math.isfinite(upper)
    if lo_same and hi_same:
        key = "exact"
    elif lo_same and hi_open:
        key = "at_least" if qualifier == "≥" else "more_than"
    elif hi_same and lo_open:
        key = "at_most"
    elif lo_open and hi_open:
        key = "unbounded"
    elif hi_open:
        key = "about_at_least"
    elif lo_open:
        key = "about_at_most"
    else:
        key = "about_range"
    return msg(f"bounds.{key}", v=v, unit=name, lo=fmt(lower) if math.isfinite(lower) else "",
               hi=fmt(upper) if math.isfinite(upper) else "")
