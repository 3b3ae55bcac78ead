"""Figures of Chinese statistical prose → candidate observations.

Each sentence is read on its own (:mod:`analysis.extract.text`); within it every number with a
unit, every rank (全市第一, 前3位), streak (连续7年), industry structure (0.1:17.3:82.6) and
千亿级 claim becomes a :class:`Candidate` in the project's observation terms — measure, value as
printed, unit, qualifier, indicator (a catalog code, or the phrase and the nearest catalog names
when the catalog has none), year, entity, peer — with the quote that states it and the reasons.

The rules are the transcription rules of the README and the domain facts of DESIGN.md; each is
one small function or table here, named for what it decides. The numbers themselves are read by
:func:`analysis.numbers.parse_value` (with ``cn2an`` for Chinese numerals), the qualifier words
by :data:`analysis.numbers.QUALIFIER_WORDS`, the units by :data:`analysis.numbers.UNITS`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..numbers import NumberFormatError, QUALIFIER_WORDS, UNITS, parse_value
from .text import Sentence, ascii_width

_CJK = "\u4e00-\u9fff"
NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
CNUM = r"[零〇一二两三四五六七八九十百千]+"

#: measure words beyond the project's units that statistical texts count in; a figure in one of
#: them is a candidate for review (check-data knows only :data:`analysis.numbers.UNITS`)
EXTRA_UNITS = ["公顷", "万公顷", "亩", "万亩", "平方公里", "平方米", "万平方米", "公里", "千瓦时", "万千瓦时",
               "亿千瓦时", "万千瓦", "千瓦", "头", "万头", "只", "万只", "件", "所", "座", "张", "人次", "万人次",
               "亿人次", "标准箱", "万标准箱", "架次", "‰", "个千分点", "千分点", "美元", "万美元", "亿美元", "立方米", "万立方米", "吨标准煤"]
_RANK_UNITS = {"位", "名"}
_UNIT_WORDS = sorted({*(u for u in UNITS if u not in _RANK_UNITS), *EXTRA_UNITS}, key=len, reverse=True)
_UNIT_RE = "|".join(re.escape(u) for u in _UNIT_WORDS)
_MONEY = {u for u, (base, _, _) in UNITS.items() if base == "元"} | {"美元", "万美元", "亿美元"}
#: Chinese numerals count only with these units: 六成, 两倍, 逾千亿元 (一家, 十条, 两件 are words)
_CNUM_UNITS = {"成", "倍", "年"} | {u for u in _MONEY if u[0] in "万亿千百"}

_TOKEN = re.compile(
    rf"(?P<num>{NUM}|{CNUM})(?:(?P<dash>[—–\-~～至到])(?P<num2>{NUM}|{CNUM}))?(?P<yu>余|多)?"
    rf"(?P<unit>{_UNIT_RE})(?P<post>以上|以下|左右|上下|以内|余|多)?")
_RANK_FIRST = re.compile(r"第(?P<n>\d+|[一二三四五六七八九十]+)(?P<unit>位|名)?|前(?P<top>\d+|[一二三四五六七八九十]+)(?P<tunit>位|名)")
_RANK_CUE = re.compile(r"全市|全省|全国|全球|国内|全区|全县|城区|区县|行政区|同类|排名|排行|榜|居|位列|列")
#: what may follow 第N for it to be a rank: the end of the piece, 位/名 or a few particles
_NOT_RANK_AFTER = re.compile(rf"^[{_CJK}A-Za-z0-9]")
_STRUCTURE = re.compile(rf"(?:三次产业|一二三产业|一、二、三产业|产业)(?:结构|比例)(?:由上年的(?P<prev>{NUM}:{NUM}:{NUM}))?"
                        rf"(?:调整为|为|是|达到|优化为)?(?P<cur>{NUM}:{NUM}:{NUM})")
_CLASS_LEVEL = re.compile(rf"(?P<k>两|三|四|五|六|\d)大(?P<n>{CNUM}|{NUM})(?P<m>万亿|亿)(?:元)?级"
                          rf"(?:主导|支柱|优势|重点|战略性新兴|新兴)?产业")
_CLASS_RANGE = re.compile(rf"{NUM}[—–\-~至]{NUM}(?:万亿|亿|万)?元?级")
_DOUBLING = re.compile(r"翻(?P<n>一|两|三|\d)番")
_YEAR = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)年(?!\d*月份?底?)?")
_FUTURE_YEAR = re.compile(r"(?:到|至|于|在)(?P<y>(?:19|20)\d\d)年|(?P<y2>(?:19|20)\d\d)年(?:前|底前|以前)")

GROWTH_WORDS = r"(?:可比|实际|名义|现价)?增长|增速|增幅|同比|比上年|比去年|上涨|提高|提升|上升|回升|增加|扩大"
DECLINE_WORDS = r"下降|减少|回落|降低|下滑|收缩|缩小"
SHARE_WORDS = re.compile(r"占比|比重|占|份额|比例|增长面")
CAGR_WORDS = re.compile(r"复合增长率|复合增速|年均增长|年均增速|年均复合")
COMPARATOR = re.compile(r"(?:高于|低于|快于|慢于|超过|超出|领先|落后)(?!上年|去年)")
EARLIER_PERIOD = re.compile(r"(?:较|(?<![占])比(?!重|例))(?!上年|去年|同期|(?:19|20)\d\d年)[\u4e00-\u9fff\d-]{1,6}?(?=增长|提高|下降|加快|回落|"
                            r"收窄|扩大|上升|减少|增加|提升|放缓|\d)")
#: a part of the year: its figures are not the year's (observations hold years)
PART_OF_YEAR = re.compile(r"(?<![较比])(?:[一二三四1-4]季度|上半年|下半年|前三季度|前两季度|(?:\d{1,2}[-—–至])?\d{1,2}月(?:份)?|"
                          r"[一二三四五六七八九十]+月(?:份)?)")
YEAR_ON_YEAR = re.compile(r"较上年|比上年|同比|比去年|较去年|较2\d{3}年|比2\d{3}年")
CONTRIBUTION = re.compile(r"拉动|贡献|带动|上拉|下拉")
BACK_REFERENCE = re.compile(r"(?:上述|以上|前述|这)$")
SPAN_BEFORE = re.compile(r"(?:近|过去|最近|未来|这|前|后|今后)$")
SPAN_AFTER = re.compile(r"^(?:来|间|以来|内|中|里)")
DURATION_BEFORE = re.compile(r"(?:用|仅用|历时|经过|花了|耗时)$")
ABSOLUTE_CHANGE = re.compile(r"(?:增加|减少|新增|净增|多|少)了?$")
FUTURE_MARKERS = re.compile(r"(?P<proj>预计|预期|有望)|(?P<target>目标|力争|确保|争取)|(?P<plan>将(?!近)|计划|拟)")
#: words around a number that are not part of an indicator's name
FILLER = re.compile(r"^(?:今年|去年|上年|本年|过去一年|分别|其中|全年|年末|年底|全区|全市|全县|全省|全国|当年|目前|截至目前|累计|共|已经|已|当前|此外|同时|"
                    r"数据显示|另外|从行业看|分行业看|从结构上看|主要产品产量中|规模以上工业中|初步核算)+|"
                    r"(?:实现|完成|达到|达|为|是|有|约为|共计|合计|累计|分别|保持|超过|突破|增长|同比|比上年|较上年|"
                    r"比去年|提升至|提高到|提升|提高|下降|增速|占|的)+$")
PLACE_PREFIX = re.compile(r"^(?:[\u4e00-\u9fff]{1,6}(?:区|县|市|省))")
_FIRM = re.compile(rf"(?<![{_CJK}])?[{_CJK}A-Za-z0-9()（）]{{2,24}}?(?:有限责任公司|股份有限公司|有限公司|集团)"
                   rf"|(?<=[，,、。])[{_CJK}()（）]{{2,24}}?(?:有限责任公司|股份有限公司|有限公司|集团)")
#: words before a catalog name that make it a narrower indicator (区属规上工业总产值 is not 规上工业总产值)
NARROWING = re.compile(r"(?:区属|市属|县属|省属|重点|骨干|龙头|国有|民营|私营|外资|外商|港澳台|限额以上|人均|新增|净增)(?:控股)?(?:企业|工业)?$")
#: what follows the topic of a sentence (战略性新兴产业比重提升，…): a predicate, not more of a name
TOPIC_FOLLOWS = r"(?:比重|占比|规模|增速|发展|成长|实现|完成|[，,：:])"
MEASURE_NOUNS = ("增加值", "总产值", "产值", "营业收入", "利润总额", "产量", "销量", "投资", "出口额", "进出口总额")


@dataclass
class Candidate:
    """One figure the text states, in the terms of an observation, with the reasons for each field."""

    sentence: int
    start: int                 # position of the figure in the sentence text
    measure: str
    value: str                 # as printed (digits; Chinese numerals as digits), negative for 下降
    unit: str
    qualifier: str = "exact"   # canonical: exact, >, ≥, <, ≤, ≈, 近, 余
    indicator: str = ""        # catalog code, or "" when the catalog has none
    phrase: str = ""           # the words that name it in the text
    year: int | None = None
    base_year: int | None = None
    entity: str = ""
    peer: str = ""
    quote: str = ""
    note: str = ""
    confidence: float = 0.9
    why: list[str] = field(default_factory=list)
    skipped: str = ""          # why a number is not a figure to transcribe ("" for candidates)
    end: int = 0               # where the figure's text ends in the sentence
    hold: str = ""             # why a figure needs a person before it can be data (a growth target)

    @property
    def stop(self) -> int:
        return self.end or self.start + len(self.value.lstrip("-")) + len(self.unit)

    def because(self, reason: str, cost: float = 0.0) -> "Candidate":
        self.why.append(reason)
        self.confidence = round(max(0.05, self.confidence - cost), 2)
        return self


_PREFIX_QUAL = sorted(["超过", "突破", "超", "逾", "不低于", "至少", "不少于", "不到", "不足", "不超过", "接近", "将近", "近",
                       "大约", "约为", "约", "高达", "多达", "达到", "达"], key=len, reverse=True)
_PREFIX_MAP = {**{w: QUALIFIER_WORDS.get(w, "exact") for w in _PREFIX_QUAL}, "不足": "<", "高达": "exact",
               "多达": "exact"}


def _prefix_qualifier(before: str) -> tuple[str, str]:
    """The qualifier word just before a number (增长超20% → 超) and the canonical qualifier."""
    for w in _PREFIX_QUAL:
        if before.endswith(w):
            return w, _PREFIX_MAP[w]
    return "", "exact"


def _number(text: str) -> float:
    return parse_value(text).value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _digits(num: str) -> str:
    """A number as printed, Chinese numerals in digits (千 → 1000), thousands separators dropped."""
    if re.fullmatch(NUM, num):
        return num.replace(",", "")
    return _fmt(_number(num))


class Extractor:
    """Reads sentences into candidates with the catalog's names and the document's context."""

    def __init__(self, catalog, *, region: str = "", year: int | None = None, published_year: int | None = None,
                 peer_of_city: str = "", peer_sets: dict | None = None):
        self.catalog = catalog
        self.region = region
        self.default_year = year
        self.published_year = published_year
        self.peer_of_city = peer_of_city            # the peer set 全市 means for this region (重庆市区县)
        self.peer_sets = peer_sets or {}
        self.names = _name_index(catalog)
        self.name_re = re.compile("|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))) \
            if self.names else None
        self.context_year: int | None = None

    # -- names -------------------------------------------------------------------------------------
    def find_names(self, text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int, str]]:
        """Catalog names in ``text[lo:hi]``: (start, end, code), longest first at each place."""
        if self.name_re is None:
            return []
        return [(m.start(), m.end(), self.names[m.group(0)]) for m in self.name_re.finditer(text, lo, len(text) if hi is None else hi)]

    def resolve(self, phrase: str) -> str | None:
        """A catalog code for words of the text: as written, without a leading 将/拟/计划, or with
        the amount noun 额 the catalog's names carry (将投资 → 投资额)."""
        if not phrase:
            return None
        bare = re.sub(r"^(?:将|拟|计划)", "", phrase)
        for p in dict.fromkeys([phrase, bare, bare + "额"]):
            code = self.catalog.resolve(p) or self.names.get(p)
            if code:
                return code
        return None

    def fits(self, code: str, c: "Candidate") -> bool:
        """Whether a level of ``c``'s unit can be of indicator ``code`` (a count in 个 is not a 规上工业增加值)."""
        from ..numbers import unit_info
        if c.measure not in ("level", "plan", "target", "projection"):
            return True
        ind = self.catalog.indicators.get(code)
        info = unit_info(c.unit)
        return ind is None or info is None or info[2] == ind.dimension

    # -- the document ----------------------------------------------------------------------------------
    def run(self, sents: list[Sentence]) -> list[Candidate]:
        out: list[Candidate] = []
        for s in sents:
            out += self.sentence(s)
        return out

    def sentence(self, s: Sentence) -> list[Candidate]:
        text = s.text
        a = ascii_width(text)
        year = self._sentence_year(a)
        found: list[Candidate] = []
        taken: list[tuple[int, int]] = []

        def free(i: int, j: int) -> bool:
            return all(j <= x or i >= y for x, y in taken)

        for m in _STRUCTURE.finditer(a):
            found += self._structure(s, m, year)
            taken.append(m.span())
        for m in _CLASS_LEVEL.finditer(a):
            found += self._class_level(s, a, m, year)
            taken.append(m.span())
        for m in _CLASS_RANGE.finditer(a):
            taken.append(m.span())
            found.append(self._skip(s, m.start(), m.group(0), "a size class of projects or firms (50—100亿级), not a figure"))
        for m in _DOUBLING.finditer(a):
            if free(*m.span()):
                n = {"一": 1, "两": 2, "三": 3}.get(m.group("n")) or int(m.group("n"))
                c = Candidate(s.index, m.start(), "multiple", str(2 ** n), "倍", year=year)
                found.append(c.because(f"{m.group(0)}: ×{2 ** n}"))
                taken.append(m.span())
        for m in _TOKEN.finditer(a):
            if not free(*m.span()):
                continue
            c = self._token(s, a, m, year)
            if c is not None:
                found.append(c)
                if not c.skipped:
                    taken.append(m.span())
        for m in _RANK_FIRST.finditer(a):
            if free(*m.span()):
                found += self._rank(s, a, m, year, found)
        found.sort(key=lambda c: c.start)
        self._measures_in_lists(found)
        self._future(s, a, found)
        self._indicators(s, a, found)
        self._quotes(s, found)
        return found

    # -- years -----------------------------------------------------------------------------------------
    def _sentence_year(self, a: str) -> int | None:
        """The year a sentence's figures refer to: a year it states (not a target year), else the year
        of the text so far, else --year, else the year before publication."""
        futures = {m.start() for m in _FUTURE_YEAR.finditer(a)} | {m.start() + 1 for m in _FUTURE_YEAR.finditer(a)}
        stated = [int(m.group("y")) for m in _YEAR.finditer(a)
                  if m.start() not in futures and m.start() - 1 not in futures
                  and not a[max(0, m.start() - 2):m.start()].endswith(("预计", "到", "至", "较", "比", "与", "同"))]
        if stated:
            self.context_year = stated[0]
            return stated[0]
        if re.search(r"今年|本年", a) and self.published_year:
            return self.published_year
        if re.search(r"(?<![比较同与])(?:去年|上年)(?!同期)", a) and self.published_year:
            return self.published_year - 1
        if self.context_year:
            return self.context_year
        if self.default_year:
            return self.default_year
        return self.published_year - 1 if self.published_year else None

    # -- numbers with units ----------------------------------------------------------------------------------
    def _token(self, s: Sentence, a: str, m: re.Match, year: int | None) -> Candidate | None:
        num, unit, post = m.group("num"), m.group("unit"), m.group("post")
        start, end = m.span()
        before = a[:start]
        after = a[end:]
        prev = a[start - 1] if start else ""
        if prev and (prev.isascii() and (prev.isalnum() or prev in ".")):
            return None     # C919, WiFi6, 1x1, a decimal's tail
        if unit in ("T", "t") and after[:1].isascii() and after[:1].isalpha():
            return None
        if after[:1].isascii() and after[:1].isalpha() and unit not in ("%",):
            return None     # 5G, 3D
        is_cnum = not re.fullmatch(NUM, num)
        if is_cnum and unit not in _CNUM_UNITS:
            return None     # 一家, 十条, 两件: words, not figures
        if before.endswith(("第", "前")) and unit in ("个", "位", "名"):
            return None
        if unit == "年":
            return self._years_token(s, a, m, year)
        if unit in ("倍",) and before.endswith("翻"):
            return None
        if is_cnum and num in ("一",) and unit == "倍":
            return None
        if m.group("dash") and m.group("num2"):
            return self._range(s, a, m, year)
        if re.match(rf"级|以上的?[{_CJK}]|以下的?[{_CJK}]", after) or (post in ("以上", "以下") and re.match(f"[{_CJK}]", after)):
            return self._skip(s, start, m.group(0), f"{m.group(0)}{after[:3]}…: a size class, not a figure")
        if unit in _MONEY and re.match(r"(?:的)?(?:行业|企业|项目|产业|规模|大关)", after):
            return self._skip(s, start, m.group(0), f"{m.group(0)}{after[:2]}: a size class, not a figure")
        if re.search(r"(?:表|图|附表|附图|注|第)$", before):
            return None     # 表1, 图2: a table's or figure's number
        if unit == "个" and re.match(r"(?:、|和|及|与)[\d.个、和及与]*个?百分点", after):
            unit = "个百分点"     # 0.1个、0.9个和2.4个百分点: the unit said once, at the end
        if BACK_REFERENCE.search(before):
            return self._skip(s, start, m.group(0), f"{before[-2:]}{m.group(0)}: refers back to figures already stated")
        if re.match(r"月份?|日", after) and unit in ("年",):
            return None
        c0 = s.clause_of(start)[0]
        part = PART_OF_YEAR.search(a[c0:start]) or (
            PART_OF_YEAR.search(a[:start]) if unit in ("%", "倍", "个百分点", "百分点") and not
            re.search(r"全年|年度", a[:start]) else None)
        if part and not re.search(r"全年", a[c0:start]):
            return self._skip(s, start, m.group(0), f"{part.group(0)}: a figure for part of the year (observations "
                                                    "hold whole years)")
        word, qual = _prefix_qualifier(before)
        yu = m.group("yu") or (post if post in ("余", "多") else None)
        notes = []
        if yu:
            qual = "余"
            notes.append(f"{yu}: more than {num}, below the next round number")
        elif post:
            q = QUALIFIER_WORDS.get(post)
            if q:
                qual = q
                notes.append(f"qualifier {post}")
        if word and qual != "exact" and not yu:
            notes.insert(0, f"qualifier {word}")
        try:
            digits = _digits(num)
        except (NumberFormatError, ValueError):
            return None
        if re.search(r"(?:^|[^\d.])[-−]$", before):
            digits = "-" + digits     # 人口自然增长率为-3.9‰
        c = Candidate(s.index, start, "level", digits, unit, qual, year=year, end=end)
        for n in notes:
            c.because(n)
        if unit == "成" and qual == "exact":
            c.qualifier = "≈"
            c.because("N成 is a round figure (tenths): ≈")
        if unit in ("个百分点", "百分点", "个千分点", "千分点"):
            return self._points(s, a, c, before)
        return self._measure(s, a, c, before, m)

    def _years_token(self, s: Sentence, a: str, m: re.Match, year: int | None) -> Candidate | None:
        """N年: a year, a span (近3年, 未来五年), a streak (连续7年) or a duration (5年多的时间)."""
        num = m.group("num")
        before, after = a[:m.start()], a[m.end():]
        if re.fullmatch(r"(?:19|20)\d\d", num):
            return None
        if before.endswith("连续"):
            return None     # streaks are read with their rank
        if SPAN_BEFORE.search(before) or SPAN_AFTER.match(after):
            return None
        if DURATION_BEFORE.search(before) or m.group("post") in ("多", "余") or m.group("yu") or after.startswith("的时间"):
            try:
                digits = _digits(num)
            except (NumberFormatError, ValueError):
                return None
            qual = "余" if (m.group("post") in ("多", "余") or m.group("yu")) else "exact"
            c = Candidate(s.index, m.start(), "level", digits, "年", qual, year=year)
            return c.because("a duration (用…年)" + ("; 多: more than" if qual == "余" else ""))
        return None

    def _range(self, s: Sentence, a: str, m: re.Match, year: int | None) -> Candidate | None:
        lo, hi = _digits(m.group("num")), _digits(m.group("num2"))
        c = Candidate(s.index, m.start(), "level", lo, m.group("unit"), "≥", year=year)
        c.because(f"a range {lo}—{hi}{m.group('unit')}: kept as at least {lo} (the upper end {hi} in the note)", 0.2)
        c.note = f"range {lo}—{hi}{m.group('unit')}"
        return self._measure(s, a, c, a[:m.start()], m)

    def _skip(self, s: Sentence, start: int, text: str, why: str) -> Candidate:
        c = Candidate(s.index, start, "", text, "", confidence=0.0)
        c.skipped = why
        return c

    def _measure(self, s: Sentence, a: str, c: Candidate, before: str, m: re.Match) -> Candidate:
        """level, growth, multiple, share or cagr from the words before the number in its piece."""
        p0, _ = s.piece_of(c.start)
        c0, _ = s.clause_of(c.start)
        piece_before = a[p0:c.start]
        clause_before = a[c0:c.start]
        tail = re.sub(rf"(?:{'|'.join(_PREFIX_QUAL)})$", "", piece_before)
        if c.unit == "倍":
            if re.search(r"(?:是|为|相当于)[^，,。]*的$", piece_before):
                c.measure = "multiple"
                return c.because("是/为…的N倍: a multiple of the other figure")
            if re.search(f"(?:{GROWTH_WORDS})(?:了)?$", tail):
                c.measure = "growth"
                return c.because(f"增长{c.value}倍: increased by {c.value} times (×{_fmt(float(c.value) + 1)})")
            c.measure = "multiple"
            return c.because("N倍 without 增长: a multiple")
        if re.search(r"(?:比上年|较上年|比去年|同比)?(?:增加|减少|新增|净增|多|少)了?$", tail) and \
                YEAR_ON_YEAR.search(clause_before) and c.unit != "%":
            c.skipped = f"{tail[-4:]}{c.value}{c.unit}: an absolute change, which observations do not hold (no measure)"
            return c
        if c.unit in ("%", "成", "‰"):
            if CAGR_WORDS.search(clause_before):
                c.measure = "cagr"
                span = re.search(rf"(?:近|过去|最近)?(?P<n>\d+|{CNUM})年", clause_before)
                if span and c.year:
                    c.base_year = c.year - int(_number(span.group("n")))
                    c.because(f"{span.group(0)}复合增长率: a CAGR over {span.group('n')} years")
                return c.because("复合/年均增长: cagr")
            shares = list(SHARE_WORDS.finditer(piece_before))
            growths = [g for g in re.finditer(f"(?:{GROWTH_WORDS}|{DECLINE_WORDS})", tail)
                       if not (shares and shares[-1].start() <= g.start() < shares[-1].end())]
            new_level = re.search(r"(?:提升|提高|上升|增加|扩大|下降|降低|减少)(?:至|到)$", tail)
            if shares and (new_level or not growths or growths[-1].start() < shares[-1].start()):
                c.measure = "share"
                return c.because(f"{shares[-1].group(0)}: a share")
            if new_level:
                return c.because(f"{new_level.group(0)}: the new level, not a change")
            if re.search(f"(?:{DECLINE_WORDS})(?:了)?$", tail):
                c.measure = "growth"
                c.value = "-" + c.value
                return c.because(f"{re.search(f'(?:{DECLINE_WORDS})(?:了)?$', tail).group(0)}: growth below zero")
            grew = re.search(f"(?P<w>{GROWTH_WORDS})(?:了|分别|均|都)?(?:为|达到|达|是)?$", tail)
            if grew:
                c.measure = "growth"
                return c.because(f"{grew.group('w')}: growth")
            return c.because("a rate stated as a level")
        return c

    def _points(self, s: Sentence, a: str, c: Candidate, before: str) -> Candidate:
        """N个百分点: a change of a rate over the previous year (pp_change); a gap to another region or
        indicator, a contribution, or a change against an earlier period of the year is not an observation."""
        c0, _ = s.clause_of(c.start)
        clause_before = a[c0:c.start]
        c.unit = "千分点" if "千分点" in c.unit else "百分点"
        if CONTRIBUTION.search(clause_before):
            c.skipped = f"{CONTRIBUTION.search(clause_before).group(0)}…{c.value}个百分点: a contribution (no measure)"
        elif EARLIER_PERIOD.search(clause_before):
            c.skipped = f"{EARLIER_PERIOD.search(clause_before).group(0)}: a change against an earlier period of the year"
        elif COMPARATOR.search(clause_before) and not YEAR_ON_YEAR.search(clause_before):
            c.skipped = f"{COMPARATOR.search(clause_before).group(0)}…: a gap to another region or indicator (no measure)"
        else:
            c.measure = "pp_change"
            if re.search(DECLINE_WORDS, clause_before):
                c.value = "-" + c.value
            c.because("N个百分点 against the year before: pp_change")
        return c

    # -- ranks and streaks ------------------------------------------------------------------------------
    def _rank(self, s: Sentence, a: str, m: re.Match, year: int | None, found: list[Candidate]) -> list[Candidate]:
        after = a[m.end():]
        p0, _ = s.piece_of(m.start())
        c0, _ = s.clause_of(m.start())
        before = a[p0:m.start()]
        if _NOT_RANK_AFTER.match(after) and not after.startswith(("的", "位", "名")):
            return []      # 第一产业, 第一生产力, 第一梯队
        if not _RANK_CUE.search(a[c0:m.start()]):
            return []
        top = m.group("top")
        n = _number(top or m.group("n"))
        if not float(n).is_integer() or n < 1:
            return []
        scope = re.search(r"全市|全省|全国|全球|国内|全区|全县|(?:中心|主|新|老)?城区|区县|\d+(?:个)?郊区", before)
        peer_text = before[scope.start():] if scope else \
            re.sub(r"^.*?(?:稳居|位居|位列|居于|排名|排在|保持|居|列|在)", "", before)
        peer = self._peer(peer_text)
        rank = Candidate(s.index, m.start(), "rank", _fmt(n), "位", "≤" if top else "exact", year=year, peer=peer)
        rank.because(f"{m.group(0)}: a rank" + (f" (前{top}: {top} or better)" if top else ""))
        if peer:
            rank.because(f"among {peer} ({peer_text or '全市'})")
        # what is ranked: the words before it, else the figure stated just before
        if re.search(r"增速|增长|增幅", before):
            rank.measure = "growth_rank"
            rank.because("增速…第N: the rank of the growth")
        elif re.search(r"规模|总量|产量|产值|销量|数量|总额", before):
            rank.because(f"{re.search(r'规模|总量|产量|产值|销量|数量|总额', before).group(0)}: the rank of the level")
        else:
            prior = [c for c in found if c.start < m.start() and not c.skipped and c.measure not in ("rank", "growth_rank")]
            if prior and prior[-1].measure in ("growth",):
                rank.measure = "growth_rank"
                rank.because("follows a growth: the rank of the growth")
        out = [rank]
        streak = re.search(rf"连续(?P<n>\d+|{CNUM})年", a[c0:m.start()])
        if streak:
            st = replace(rank, measure="streak", value=_fmt(_number(streak.group("n"))), unit="年", qualifier="exact",
                         why=[f"{streak.group(0)}…第{m.group('n')}: a streak of {streak.group('n')} years"])
            out.append(st)
        if re.search(r"均|都|分别", a[c0:m.start()]):
            # 均位列全市第一: a rank for each level stated before it in the sentence
            prior = [c for c in found if c.start < c0 and not c.skipped and c.measure == "level"]
            if len(prior) > 1:
                out = [replace(rank, why=[*rank.why, f"均: the rank of {p.value}{p.unit} too"]) for p in prior]
                for o, p in zip(out, prior):
                    o._of = p   # type: ignore[attr-defined]
        return out

    def _peer(self, text: str) -> str:
        """The peer set a rank is among: 全市 → the region's parent's peer set (重庆市区县); a named set
        of the catalog that contains the words (中心城区 → 重庆市中心城区); else the words as written."""
        t = re.sub(r"^(?:在|于|居|排名|排在)", "", text)
        if not t or re.fullmatch(r"全市(?:行政区|区县)?|市内|全市各区县", t):
            return self.peer_of_city
        for name in self.peer_sets:
            if t in name or name in t:
                return name
        return t

    # -- special forms -------------------------------------------------------------------------------------
    def _structure(self, s: Sentence, m: re.Match, year: int | None) -> list[Candidate]:
        """三次产业结构为0.1:17.3:82.6 → the shares of GDP of the three sectors (and the year before's)."""
        out = []
        codes = [self.resolve(n) or "" for n in ("第一产业增加值", "第二产业增加值", "第三产业增加值")]
        for group, y in (("cur", year), ("prev", (year - 1) if year else None)):
            if not m.group(group):
                continue
            for code, v in zip(codes, m.group(group).split(":")):
                c = Candidate(s.index, m.start(group), "share", v, "%", year=y, indicator=code,
                              phrase=["第一产业", "第二产业", "第三产业"][len(out) % 3] + "增加值")
                c.because("三次产业结构 a:b:c: each sector's share of GDP (%)")
                c.note = "share of GDP (三次产业结构)"
                c._fixed = True   # type: ignore[attr-defined]
                out.append(c)
        return out

    def _class_level(self, s: Sentence, a: str, m: re.Match, year: int | None) -> list[Candidate]:
        """汽车和电子两大千亿级主导产业 → each industry's output is at least 1000亿元."""
        k = int(_number(m.group("k")))
        value = _digits(m.group("n"))
        head = a[s.clause_of(m.start())[0]:m.start()]
        names = [n for n in re.split(r"和|、|及|与", head) if n][-k:]
        out = []
        for name in names:
            code, phrase = "", name[-4:] + "产业产值"
            for i in range(len(name)):
                for tail in ("产值", "产业产值"):
                    got = self.resolve(name[i:] + tail)
                    if got:
                        code, phrase = got, name[i:] + tail
                        break
                if code:
                    break
            c = Candidate(s.index, m.start(), "level", value, m.group("m") + "元", "≥", year=year, indicator=code,
                          phrase=phrase)
            c.because(f"{m.group(0)}: each of {len(names)} industries has output of at least {value}{m.group('m')}元")
            c.note = f"{m.group('n')}{m.group('m')}级 = at least {value}{m.group('m')}元"
            c._fixed = True   # type: ignore[attr-defined]
            out.append(c)
        return out

    def _measures_in_lists(self, found: list[Candidate]) -> None:
        """7.3%和6.2%: a figure joined to the one before by 和/、/及 takes its measure (增速分别达…)."""
        for prev, c in zip(found, found[1:]):
            if c.skipped or prev.skipped or c.measure != "level" or prev.unit != c.unit:
                continue
            if prev.measure in ("growth", "share", "cagr") and c.start - prev.start <= len(prev.value) + len(prev.unit) + 2:
                c.measure = prev.measure
                c.base_year = prev.base_year
                c.because(f"listed after {prev.value}{prev.unit}: the same measure ({prev.measure})")

    def _future(self, s: Sentence, a: str, found: list[Candidate]) -> None:
        """预计 → projection, 目标/到2027年 → target, 将/计划 → plan; the year a target names."""
        markers = []
        for m in FUTURE_MARKERS.finditer(a):
            markers.append((m.start(), m.lastgroup, m.group(0), None))
        for m in _FUTURE_YEAR.finditer(a):
            y = int(m.group("y") or m.group("y2"))
            if self.context_year is None or y > self.context_year or (self.published_year and y >= self.published_year):
                kind = "projection" if re.search(r"(?:预计|预期|有望)$", a[max(0, m.start() - 3):m.start()]) else "target"
                markers.append((m.start(), kind, m.group(0), y))
        ahead = re.search(rf"未来(?P<n>\d+|{CNUM})年", a)
        markers.sort()
        for c in found:
            if c.skipped or c.measure in ("rank", "growth_rank", "streak"):
                continue
            before = [mk for mk in markers if mk[0] < c.start]
            if not before:
                continue
            pos, kind, word, y = before[-1]
            if kind == "proj":
                kind = "projection"
            if kind in ("projection", "target"):
                if c.measure in ("growth", "cagr", "pp_change", "share"):
                    c.hold = f"{word}: a {kind} of {c.measure}, which observations have no measure for"
                    c.because(f"{c.hold}; kept as {c.measure} for review", 0.3)
                    continue
                c.measure = kind
                years = [mk[3] for mk in before if mk[3]]
                if years:
                    c.year = years[-1]
                    c.because(f"{word}: a {kind} for {c.year}")
                elif ahead and ahead.start() < c.start and c.year:
                    n = int(_number(ahead.group("n")))
                    c.year = c.year + n
                    c.because(f"{word}; {ahead.group(0)}: a {kind} for {c.year}")
                else:
                    c.because(f"{word}: a {kind}")
            elif kind == "plan" and c.measure == "level":
                c.measure = "plan"
                c.because(f"{word}…: a plan")
            elif kind == "target" and c.measure == "level":
                c.measure = "target"
                c.because(f"{word}: a target")

    # -- indicators ----------------------------------------------------------------------------------------
    def _indicators(self, s: Sentence, a: str, found: list[Candidate]) -> None:
        subject: tuple[str, str] | None = None     # (code, surface phrase) of the sentence so far
        names = self.find_names(a)
        live = [c for c in found if not c.skipped]
        zipped = self._respectively(a, live, names)
        for c in live:
            of = getattr(c, "_of", None)
            if of is not None:      # 均位列第一: the rank of that figure
                c.indicator, c.phrase, c.year, c.entity = of.indicator, of.phrase, of.year, of.entity
                c.because(f"the rank of {of.phrase or of.indicator}")
                continue
            if getattr(c, "_fixed", False):
                subject = (c.indicator, c.phrase)
                continue
            if id(c) in zipped:
                code, phrase = zipped[id(c)]
                c.indicator, c.phrase = code, phrase
                c.because(f"分别: the {phrase} of the list")
                subject = (code, phrase)
                continue
            prev_end = max((o.stop for o in live
                            if o.start < c.start and s.clause_of(o.start) == s.clause_of(c.start)), default=0)
            got = self._name_for(s, a, c, names, subject, prev_end)
            c.indicator, c.phrase = got[0], got[1]
            if got[2]:
                c.because(got[2], got[3])
            if c.phrase or c.indicator:
                subject = (c.indicator, c.phrase)
        for c in live:
            if not c.entity:
                c.entity = self._entity(a, c.start)
            if c.entity and c.phrase.startswith(c.entity):
                c.phrase = re.sub(r"^(?:仅用|用|已|的)", "", c.phrase[len(c.entity):])
        for c in live:
            if not c.indicator:
                near = self.catalog.suggest(c.phrase, n=3) if c.phrase else []
                c.because(f"indicator not in the catalog: {c.phrase or '(no name in the clause)'!r}"
                          + (f"; nearest: {', '.join(near)}" if near else ""), 0.4)

    def _entity(self, a: str, pos: int) -> str:
        """The firm a figure is about when its sentence names one before it (重庆荣阳汽车配件有限责任公司):
        a name ending in 有限责任公司, 有限公司, 股份公司 or 集团. Plants and projects are left to the reviewer."""
        hits = list(_FIRM.finditer(a, 0, pos))
        return hits[-1].group(0) if hits else ""

    def _respectively(self, a: str, live: list[Candidate], names) -> dict[int, tuple[str, str]]:
        """分别有29家、24家企业入选百强企业名单、百强制造业企业名单: figures and names paired in order."""
        if "分别" not in a:
            return {}
        out = {}
        groups: dict[str, list[Candidate]] = {}
        for c in live:
            if c.measure not in ("rank", "growth_rank", "streak") and not getattr(c, "_fixed", False):
                groups.setdefault(c.measure, []).append(c)
        distinct = []
        for st, en, code in names:
            if not distinct or distinct[-1][2] != code:
                distinct.append((st, en, code))
        for cs in groups.values():
            if len(cs) >= 2 and len(cs) == len(distinct):
                for c, (st, en, code) in zip(cs, distinct):
                    out[id(c)] = (code, a[st:en])
        return out

    def _name_for(self, s: Sentence, a: str, c: Candidate, names, subject, lo_bound: int = 0) -> tuple[str, str, str, float]:
        """(code, phrase, reason, cost) of the indicator a figure is about: a catalog name before it in
        its piece or clause (with the measure noun between them: 规模以上工业企业…营业收入), one just
        after it (超1000台智能化设备), the subject of the sentence, or the words before it when the
        catalog has no name for them."""
        p0, p1 = s.piece_of(c.start)
        c0, c1 = s.clause_of(c.start)
        p0, c0 = max(p0, lo_bound), max(c0, lo_bound) if lo_bound <= c.start else c0
        end = c.stop

        def carried(why_not: str = "") -> tuple[str, str, str, float] | None:
            if subject and (not subject[0] or self.fits(subject[0], c)):
                return subject[0], subject[1], f"the subject of the sentence ({subject[1]})", 0.1
            return None

        if c.measure in ("rank", "growth_rank", "streak"):
            inside = [n for n in names if p0 <= n[0] and n[1] <= c.start]
            if inside:
                st, en, code = inside[-1]
                return code, a[st:en], f"{a[st:en]}: a catalog name before the rank", 0.0
            bare = re.search("|".join(MEASURE_NOUNS), a[p0:c.start])
            if bare and subject and subject[0]:
                code = self._swap_noun(subject, bare.group(0))
                if code:
                    return code, bare.group(0), f"{bare.group(0)} of {subject[1]}: the subject of the sentence", 0.1
            return carried() or ("", "", "", 0.0)
        if c.measure == "share":
            whole = re.search(r"占(?!比)", a[p0:c.start])
            if whole:
                # 占规上工业总产值的36.4%: the whole is named; the part is the subject (or the words before 占)
                head = [n for n in names if p0 <= n[0] and n[1] <= p0 + whole.start()]
                if head:
                    st, en, code = head[-1]
                    return code, a[st:en], f"{a[st:en]}: the part (占… names the whole)", 0.0
                return carried() or ("", self._phrase(a, p0, p0 + whole.start()), "", 0.0)
        for lo, hi in ((p0, p1), (c0, c1)):
            before = [n for n in names if lo <= n[0] and n[1] <= c.start]
            if before:
                st, en, code = before[-1]
                name = a[st:en]
                gap = self._clean(a[en:c.start])
                if gap and re.search(f"[{_CJK}]{{2}}", gap):
                    # a name, then other words: 规模以上工业企业 + 营业收入; 规模以上工业总产值 … 增加值
                    whole = self.resolve(name + gap)
                    if whole:
                        return whole, name + gap, f"{name}{gap}: a catalog name", 0.0
                    bare = next((n for n in MEASURE_NOUNS if gap.endswith(n)), None)
                    if bare and gap == bare:
                        swapped = self._swap_noun((code, name), bare)
                        if swapped:
                            return swapped, name + "…" + bare, f"{bare} of {name}", 0.1
                    if len(gap) >= 2 or not self.fits(code, c):
                        break     # the name only qualifies other words: the phrase below
                narrow = NARROWING.search(a[lo:st])
                if narrow:
                    return "", a[lo + narrow.start():en], "", 0.0
                if self.fits(code, c):
                    return code, name, f"{name}: a catalog name in the clause", 0.0
            after = [n for n in names if end <= n[0] and n[1] <= hi and n[0] - end <= 8
                     and re.fullmatch(f"[{_CJK}]*", a[end:n[0]])]
            if after and self.fits(after[0][2], c):
                st, en, code = after[0]
                return code, a[st:en], f"{a[st:en]}: a catalog name after the figure", 0.05
        phrase = self._phrase(a, p0, c.start) or self._phrase(a, c0, c.start)
        follow = re.match(rf"[{_CJK}]+", a[end:c1])
        if c.unit == "%" and c.measure == "level" and follow:
            # 实现关键工序100%自动化 → 关键工序自动化率; 实现100%质量监测追溯 → 质量监测追溯率
            for cand in (phrase + follow.group(0) + "率", follow.group(0) + "率"):
                code = self.resolve(cand)
                if code:
                    return code, cand, f"{cand}: a catalog name (the rate the words describe)", 0.1
        if phrase in ("比重", "占比", "增速", "增幅", "比重较", "占比较") and subject:
            got = carried()
            if got:
                return got
        if phrase == "增加值" and re.search(r"全(?:区|市|县|省)(?:实现|完成)?增加值$", a[c0:c.start]):
            code = self.resolve("地区生产总值")
            if code:
                return code, phrase, "全区增加值: the region's value added, its GDP", 0.1
        if phrase in MEASURE_NOUNS:
            # 战略性新兴产业比重提升，完成产值1710.7亿元: the name's stem is the topic of the sentence
            stems = [(n[: -len(phrase)], code) for n, code in self.names.items()
                     if n.endswith(phrase) and len(n) - len(phrase) >= 3 and not re.match("全[区市县省]", n)
                     and re.search(re.escape(n[: -len(phrase)]) + TOPIC_FOLLOWS, a[:c.start])]
            if stems:
                stem, code = max(stems, key=lambda x: len(x[0]))
                if self.fits(code, c):
                    return code, stem + phrase, f"{phrase} of {stem}: the topic of the sentence", 0.15
        if phrase:
            noun = next((n for n in MEASURE_NOUNS if phrase == n or phrase.endswith(n) and len(phrase) <= len(n) + 2), None)
            if noun and subject and subject[0]:
                code = self._swap_noun(subject, noun)
                if code:
                    return code, phrase, f"{phrase} of {subject[1]}: the subject of the sentence", 0.1
            code = self.resolve(phrase)
            if code and self.fits(code, c):
                return code, phrase, f"{phrase}: a catalog name", 0.0
            if len(phrase) < 2:
                got = carried()
                if got:
                    return got
            return "", phrase, "", 0.0
        after_phrase = re.match(rf"[{_CJK}“”\"()（）]+", a[end:c1])
        if c.measure in ("level", "plan") and after_phrase and not (subject and subject[0] and self.fits(subject[0], c)):
            return "", _trim_after(after_phrase.group(0)), "", 0.0
        got = carried()
        if got:
            return got
        if after_phrase:
            return "", _trim_after(after_phrase.group(0)), "", 0.0
        return "", "", "", 0.0

    def _clean(self, t: str) -> str:
        """Words between a name and its figure without verbs, qualifiers and growth words."""
        t = re.sub(r"(?:是|为|相当于)?(?:上年|去年|(?:19|20)\d\d年)(?:同期)?的$", "", t)
        for _ in range(3):
            t = re.sub(rf"^(?:实现|完成|达到|达|为|是|有|共|累计|合计|分别|同比|比上年|较上年|的)|(?:{'|'.join(_PREFIX_QUAL)})$", "", t)
            t = re.sub(f"(?:{GROWTH_WORDS}|{DECLINE_WORDS})+(?:了)?(?:为|达到|达)?$", "", t)
            t = re.sub(r"(?:实现|完成|达到|达|为|是|约为)$|(?:是|为|相当于)(?:上年|去年|(?:19|20)\d\d年)?的$", "", t)
        return t

    def _swap_noun(self, subject: tuple[str, str], noun: str) -> str | None:
        """增加值 after 规模以上工业总产值 → 规模以上工业增加值, when the catalog knows it."""
        code, phrase = subject
        if not code:
            return None
        ind = self.catalog.indicators.get(code)
        for name in [phrase, *((ind.zh, *ind.aliases) if ind else ())]:
            for n in sorted(MEASURE_NOUNS, key=len, reverse=True):
                if name.endswith(n):
                    if n == noun:
                        return code
                    got = self.resolve(name[: -len(n)] + noun)
                    if got:
                        return got
                    break
        return None

    def _phrase(self, a: str, lo: int, hi: int) -> str:
        """The words naming a figure: the piece before it without filler, verbs, places and years."""
        t = a[lo:hi].rstrip("-−")
        t = re.sub(r"(?:19|20)\d\d年(?:\d{1,2}月)?", "", t)
        t = re.sub(r"\([^)]*\)$", "", t)
        for _ in range(3):
            t = FILLER.sub("", t)
            t = re.sub(rf"(?:{'|'.join(_PREFIX_QUAL)})$", "", t)
            t = re.sub(f"(?:{GROWTH_WORDS}|{DECLINE_WORDS})+(?:了)?(?:为|达到|达)?$", "", t)
        if self.region and t.startswith(self.region):
            t = t[len(self.region):]
        t = PLACE_PREFIX.sub("", t) if len(t) > 6 and PLACE_PREFIX.match(t) and self._is_place(PLACE_PREFIX.match(t).group(0)) else t
        t = re.sub(r"^(?:实现|完成|的|为|是|和|及|与)|(?:可比|实际|名义|现价)$", "", t)
        t = re.sub(r"实现|完成", "", t) if len(t) > 4 else t
        return t.strip("“”\"()（）,，")

    def _is_place(self, word: str) -> bool:
        return word in (self.region, "全区", "全市", "全县")

    # -- quotes ------------------------------------------------------------------------------------------------
    def _quotes(self, s: Sentence, found: list[Candidate]) -> None:
        """The shortest full clause stating the figure: its clause, or its piece when the clause states
        several; with the clause before when the figure's subject is there (增长55% → 实现汽车产值1900亿元，增长55%)."""
        text = s.text
        for c in found:
            c0, c1 = s.clause_of(c.start)
            p0, p1 = s.piece_of(c.start)
            others = [o for o in found if o is not c and not o.skipped and c0 <= o.start < c1 and o.start != c.start]
            lo, hi = (p0, p1) if others and (p0, p1) != (c0, c1) else (c0, c1)
            if c.phrase and c.phrase not in text[lo:hi] and not c.skipped:
                earlier = [cl for cl in s.clauses if cl[1] <= lo]
                if earlier and c.phrase in text[earlier[-1][0]:hi]:
                    lo = earlier[-1][0]
                elif (p0, p1) != (c0, c1) and c.phrase in text[c0:hi]:
                    lo = c0
            c.quote = text[lo:hi]


def _trim_after(t: str) -> str:
    return re.split(r"(?:的|在|中|，|、)", t)[0][:12]


def _name_index(catalog) -> dict[str, str]:
    """Every way the text may write a catalog indicator → its code: 中文名, aliases, and variants
    (规模以上 ↔ 规上; a leading 规划/撬动/项目/计划 or a trailing 数量/入选数/（…） dropped)."""
    out: dict[str, str] = {}
    ambiguous: set[str] = set()

    def add(name: str, code: str) -> None:
        name = ascii_width(name.strip())
        if len(name) < 2 or re.fullmatch(r"[A-Za-z_0-9]+", name) and name.upper() != name:
            return
        if name in out and out[name] != code:
            ambiguous.add(name)
        out.setdefault(name, code)

    for ind in catalog.indicators.values():
        for n in (ind.zh, *ind.aliases):
            n = str(n)
            variants = {n, re.sub(r"[（(][^）)]*[）)]$", "", n)}
            for v in list(variants):
                variants |= {v.replace("规模以上", "规上"), v.replace("规上", "规模以上")}
            for v in list(variants):   # 50-100亿级项目 as the text writes it: 50—100亿级项目
                if "-" in v:
                    variants |= {v.replace("-", d) for d in "—–~"}
            for v in list(variants):
                for pre in ("规划", "撬动", "项目", "计划"):
                    if v.startswith(pre) and len(v) - len(pre) >= 3:
                        variants.add(v[len(pre):])
                for suf in ("数量", "入选数", "吨位"):
                    if v.endswith(suf) and len(v) - len(suf) >= 3:
                        variants.add(v[: -len(suf)])
            for v in variants:
                add(v, ind.code)
    for n in ambiguous:
        out.pop(n, None)
    return out
