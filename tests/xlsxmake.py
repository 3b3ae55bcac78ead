"""Workbooks for tests: real ones from openpyxl, and crafted ones (zip bombs, parts patched by hand)."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

SHEET = "xl/worksheets/sheet1.xml"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def workbook(path: Path, rows: list[list], *, formats: dict[tuple[int, int], str] | None = None,
             sheets: list[str] | None = None, merge: str | None = None, formulas: dict[str, str] | None = None) -> Path:
    """An .xlsx with ``rows`` in each sheet (``formats``: (row, column) 1-based → number format)."""
    import openpyxl
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in sheets or ["Sheet1"]:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for (r, c), fmt in (formats or {}).items():
            ws.cell(r, c).number_format = fmt
        for ref, f in (formulas or {}).items():
            ws[ref] = f
        if merge:
            ws.merge_cells(merge)
    wb.save(path)
    return path


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip of ``members`` (deflated), written by zipfile."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def patched(src: Path, dst: Path, **replace: bytes) -> Path:
    """``src`` with some parts replaced (keyword: the part's path with / as __, e.g. xl__worksheets__sheet1_xml)."""
    members = parts(src)
    for key, data in replace.items():
        members[key.replace("__", "/").replace("_xml", ".xml")] = data
    return write_zip(dst, members)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _zip_by_hand(path: Path, members: list[tuple[str, int, int, int, bytes]]) -> Path:
    """A zip whose members are (name, crc, compressed size, declared size, deflated bytes) as given."""
    out, central = bytearray(), bytearray()
    for name, crc, csize, usize, data in members:
        offset, nb = len(out), name.encode()
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, csize, usize, len(nb), 0) + nb + data
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, csize, usize,
                               len(nb), 0, 0, 0, 0, 0, offset) + nb
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def zip_bomb(path: Path, template: Path, *, mib: int = 1024, declared: int | None = None) -> Path:
    """``template`` (a valid workbook) whose sheet inflates to ``mib`` MiB of spaces inside valid XML.

    The deflate stream repeats one fully flushed block, so a gigabyte costs about a megabyte and no
    time to build. ``declared``: the size the zip states (default: the true size, CRC correct) — a
    smaller one makes a bomb that lies about its size.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head_text = f'<?xml version="1.0"?><worksheet {_NS}><sheetData>'.encode()
    tail_text = b"</sheetData></worksheet>"
    block = b" " * (1 << 20)
    head = comp.compress(head_text) + comp.flush(zlib.Z_FULL_FLUSH)
    body = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.compress(tail_text) + comp.flush(zlib.Z_FINISH)
    data = head + body * mib + tail
    size = len(head_text) + mib * len(block) + len(tail_text)
    crc = zlib.crc32(head_text)
    block_crc_steps = mib
    for _ in range(block_crc_steps):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail_text, crc)
    members = []
    for name, content in parts(template).items():
        if name == SHEET:
            members.append((name, crc, len(data), size if declared is None else declared, data))
        else:
            d = _raw_deflate(content)
            members.append((name, zlib.crc32(content), len(d), len(content), d))
    return _zip_by_hand(path, members)


def sheet_xml(rows_xml: str, extra: str = "", doctype: str = "") -> bytes:
    """A sheet part with the given ``<row>`` elements (and e.g. ``<mergeCells>`` after them)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet {_NS}><sheetData>{rows_xml}</sheetData>'
            f'{extra}</worksheet>').encode()


def inline_row(n: int, cells: dict[str, str]) -> str:
    """``<row>`` of inline-string cells: {"A": "region", …}."""
    return f'<row r="{n}">' + "".join(f'<c r="{c}{n}" t="inlineStr"><is><t>{v}</t></is></c>'
                                      for c, v in cells.items()) + "</row>"


def xlsx_bytes(rows: list[list]) -> bytes:
    buf = io.BytesIO()
    import openpyxl
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(buf)
    return buf.getvalue()
