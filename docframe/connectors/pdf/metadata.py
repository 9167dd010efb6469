"""Document-level facts about a PDF: info dictionary, dates, JavaScript, attachments.

Nothing here executes or extracts active content: JavaScript is *detected* (an
action of type /JavaScript or a /JS entry anywhere in the file) and attached
files are *listed* by name, never decoded. Both parsers (PyMuPDF, pypdf) report
the same keys, so the lake cannot tell which one ran.
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path
from typing import Any

# /JS or /JavaScript as a PDF name (not /JSomething)
_JS_NAME = re.compile(rb"/J(?:S|avaScript)(?![A-Za-z0-9_.#-])")
_JS_TEXT = re.compile(r"/J(?:S|avaScript)(?![A-Za-z0-9_.#-])")
# "12 0 obj <</Type/ObjStm ..." : object streams can hide dictionaries from a raw scan
_OBJ_HEADER = re.compile(rb"(\d+)\s+\d+\s+obj\b")
_PDF_DATE = re.compile(
    r"^\s*(?:D\s*:)?\s*(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?"
    r"\s*(?:([Zz])|([+-])(\d{2})'?(\d{2})?'?)?"
)
# placeholder titles: "Untitled", "Microsoft Word - report.doc", a bare file name ("10811.exe")
_JUNK_TITLE = re.compile(
    r"^(untitled.*|microsoft (word|powerpoint|excel) - .*"
    r"|.*\.(docx?|pdf|tex|dvi|rtf|odt|indd|qxd|ps)|\S+\.[a-z0-9]{2,4})$",
    re.I,
)

METADATA_KEYS = (
    "title",
    "author",
    "subject",
    "keywords",
    "creator",
    "producer",
    "creation_date",
    "mod_date",
)


def pdf_date(raw: Any) -> str | None:
    """A PDF date (``D:20090113120000-05'00'``) as ISO 8601; unparseable text as given."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    m = _PDF_DATE.match(text)
    if not m:
        return text
    year, month, day, hour, minute, second, zulu, sign, tzh, tzm = m.groups()
    try:
        month_i, day_i = int(month or 1), int(day or 1)
        hour_i, minute_i, second_i = int(hour or 0), int(minute or 0), int(second or 0)
        if not (1 <= month_i <= 12 and 1 <= day_i <= 31 and hour_i < 24 and minute_i < 60):
            return text
    except ValueError:
        return text
    iso = f"{year}-{month_i:02d}-{day_i:02d}T{hour_i:02d}:{minute_i:02d}:{min(second_i, 59):02d}"
    if zulu:
        iso += "Z"
    elif sign:
        iso += f"{sign}{tzh}:{tzm or '00'}"
    return iso


def clean_text(value: Any) -> str | None:
    """Info-dictionary text: stripped, NULs removed, empty -> None."""
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text or None


def usable_title(title: str | None) -> str | None:
    """The metadata title unless it is a placeholder ("Untitled", "Microsoft Word - x.doc")."""
    if not title or _JUNK_TITLE.match(title.strip()):
        return None
    return title.strip()


def base_metadata(info: dict[str, Any], page_count: int, parser: str) -> dict[str, Any]:
    """The document metadata every PDF gets, from an info dict with METADATA_KEYS."""
    meta: dict[str, Any] = {}
    for key in METADATA_KEYS:
        value = info.get(key)
        meta[key] = pdf_date(value) if key.endswith("_date") else clean_text(value)
    meta.update(
        page_count=page_count,
        parser=parser,
        encrypted=False,
        has_javascript=False,
        attachments=[],
        needs_ocr_pages=[],
        ocr_pages=[],
    )
    return meta


def pymupdf_info(doc: Any) -> dict[str, Any]:
    """PyMuPDF's metadata dict under docframe's keys (never raises)."""
    try:
        raw = doc.metadata or {}
    except Exception:  # noqa: BLE001 - broken info dictionaries are common
        raw = {}
    return {
        "title": raw.get("title"),
        "author": raw.get("author"),
        "subject": raw.get("subject"),
        "keywords": raw.get("keywords"),
        "creator": raw.get("creator"),
        "producer": raw.get("producer"),
        "creation_date": raw.get("creationDate"),
        "mod_date": raw.get("modDate"),
    }


def _raw_hits(path: Path) -> tuple[bool, list[int]]:
    """(a /JS-like name occurs in the raw bytes, xref numbers of object streams)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size == 0:
                return False, []
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _has_js_name(data), _object_streams(data)
    except (OSError, ValueError):
        return True, []  # cannot tell cheaply: let the full scan decide


def _has_js_name(data: Any) -> bool:
    """A /JS or /JavaScript name in ``data`` (bytes.find is far faster than a regex here)."""
    for needle in (b"/JS", b"/JavaScript"):
        pos = data.find(needle)
        while pos >= 0:
            if _JS_NAME.match(data, pos):
                return True
            pos = data.find(needle, pos + 1)
    return False


def _object_streams(data: Any) -> list[int]:
    """Object numbers of the /Type /ObjStm objects; [-1] when one cannot be located."""
    found: list[int] = []
    pos = data.find(b"/ObjStm")
    while pos >= 0 and len(found) < 100_000:
        headers = list(_OBJ_HEADER.finditer(data, max(0, pos - 600), pos))
        if not headers:
            return [-1]
        found.append(int(headers[-1].group(1)))
        pos = data.find(b"/ObjStm", pos + 7)
    return found


def pymupdf_has_javascript(doc: Any, path: Path) -> bool:
    """True when any object is a JavaScript action or carries a /JS entry.

    A raw byte scan rules most files out in a millisecond; dictionaries inside
    object streams are checked after decompressing those streams; any hit is
    confirmed object by object (compressed binary data can contain "/JS" by chance).
    """
    hit, streams = _raw_hits(path)
    if not hit:
        for xref in streams:
            if xref < 0:
                hit = True
                break
            try:
                data = doc.xref_stream(xref) or b""
            except Exception:  # noqa: BLE001 - a broken object stream: scan everything
                hit = True
                break
            if _has_js_name(data):
                hit = True
                break
    if not hit:
        return False
    try:
        count = doc.xref_length()
    except Exception:  # noqa: BLE001
        return False
    for xref in range(1, count):
        try:
            text = doc.xref_object(xref, compressed=True)
        except Exception:  # noqa: BLE001 - dangling or broken objects
            continue
        if _JS_TEXT.search(text):
            return True
    return False


def pymupdf_page_attachments(page: Any) -> list[str]:
    """Names of files attached to a page through FileAttachment annotations."""
    names: list[str] = []
    try:
        if page.first_annot is None:
            return names
        for annot in page.annots(types=(17,)):  # PDF_ANNOT_FILE_ATTACHMENT
            try:
                info = annot.file_info
            except Exception:  # noqa: BLE001
                continue
            name = clean_text(info.get("filename") or info.get("ufilename"))
            if name:
                names.append(name)
    except Exception:  # noqa: BLE001 - annotations are optional extras
        pass
    return names


def pymupdf_embedded_files(doc: Any) -> list[str]:
    try:
        return [n for n in (clean_text(x) for x in doc.embfile_names()) if n]
    except Exception:  # noqa: BLE001
        return []


# ---------------------------------------------------------------- pypdf


def pypdf_info(reader: Any) -> dict[str, Any]:
    try:
        raw = reader.metadata or {}
    except Exception:  # noqa: BLE001
        raw = {}
    get = raw.get if hasattr(raw, "get") else (lambda _k: None)

    def text(key: str) -> Any:
        try:
            return get(key)
        except Exception:  # noqa: BLE001
            return None

    return {
        "title": text("/Title"),
        "author": text("/Author"),
        "subject": text("/Subject"),
        "keywords": text("/Keywords"),
        "creator": text("/Creator"),
        "producer": text("/Producer"),
        "creation_date": text("/CreationDate"),
        "mod_date": text("/ModDate"),
    }


def _resolve(obj: Any) -> Any:
    try:
        return obj.get_object() if hasattr(obj, "get_object") else obj
    except Exception:  # noqa: BLE001
        return None


def pypdf_has_javascript(reader: Any, path: Path) -> bool:
    hit, streams = _raw_hits(path)
    if not hit and not streams:
        return False
    try:
        root = _resolve(reader.trailer["/Root"])
        names = _resolve(root.get("/Names")) if root is not None else None
        if names is not None and "/JavaScript" in names:
            return True
    except Exception:  # noqa: BLE001
        pass
    # confirm object by object (bounded: this is the fallback parser)
    try:
        numbers = [(num, gen) for gen, table in reader.xref.items() for num in table]
        numbers += [(num, 0) for num in getattr(reader, "xref_objStm", {})]
    except Exception:  # noqa: BLE001
        return hit
    from pypdf.generic import DictionaryObject, IndirectObject

    for num, gen in numbers[:200_000]:
        try:
            obj = reader.get_object(IndirectObject(num, gen, reader))
        except Exception:  # noqa: BLE001
            continue
        if isinstance(obj, DictionaryObject) and ("/JS" in obj or obj.get("/S") == "/JavaScript"):
            return True
    return False


def pypdf_attachments(reader: Any) -> list[str]:
    """Embedded file names (catalog name tree) and page FileAttachment annotations."""
    found: list[str] = []
    try:
        root = _resolve(reader.trailer["/Root"])
        names = _resolve(root.get("/Names")) if root is not None else None
        tree = _resolve(names.get("/EmbeddedFiles")) if names is not None else None
        _walk_name_tree(tree, found, depth=0)
    except Exception:  # noqa: BLE001
        pass
    return found


def _walk_name_tree(node: Any, out: list[str], depth: int) -> None:
    if node is None or depth > 32 or len(out) > 10_000:
        return
    pairs = _resolve(node.get("/Names"))
    if pairs is not None:
        for i in range(0, len(pairs) - 1, 2):
            name = clean_text(_resolve(pairs[i]))
            if name:
                out.append(name)
    kids = _resolve(node.get("/Kids"))
    for kid in kids or []:
        _walk_name_tree(_resolve(kid), out, depth + 1)


def pypdf_page_attachments(page: Any) -> list[str]:
    out: list[str] = []
    try:
        annots = _resolve(page.get("/Annots")) or []
        for ref in annots:
            annot = _resolve(ref)
            if annot is None or annot.get("/Subtype") != "/FileAttachment":
                continue
            spec = _resolve(annot.get("/FS"))
            if hasattr(spec, "get"):
                name = clean_text(_resolve(spec.get("/UF")) or _resolve(spec.get("/F")))
            else:
                name = clean_text(spec)
            if name:
                out.append(name)
    except Exception:  # noqa: BLE001
        pass
    return out
