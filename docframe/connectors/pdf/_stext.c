/*
 * docframe.connectors.pdf._stext: read MuPDF's structured text page without
 * a JSON round trip.
 *
 * Why: the PDF connector needs, per text block, its bbox, its lines, and how
 * many characters are set in which font size and in bold (from each line's
 * first character's font) -- facts MuPDF's own fz_print_stext_page_as_json
 * writes. Printing that JSON, parsing it back and counting in Python cost
 * 0.11 s on the 349-page benchmark set, a third of what MuPDF spends building
 * the text page itself; this walk over the same structs costs about 0.01 s.
 *
 * The results equal what extract._lines_from_json computes from the JSON (the
 * Python reference, used when this module is not built; MuPDF 1.28
 * stext-output.c): coordinates and sizes in 1/100 pt truncated to int,
 * top-level text blocks only, lines stripped of white space as str.strip()
 * does and empty ones dropped, characters counted without U+0020. Characters
 * that are not Unicode scalar values become U+FFFD (the JSON path would fail
 * on them and fall back to PyMuPDF's dict); a line without characters is
 * skipped (it has no font in the JSON). Whether a font *name* looks bold is
 * decided in Python (extract._font_is_bold).
 *
 * Only struct fields are read, no MuPDF function is called, so nothing links
 * against libmupdf: the module is compiled against the headers PyMuPDF ships
 * (mupdf-devel/include) and reports their FZ_VERSION; Python uses it only
 * when that equals the running PyMuPDF's. The caller holds the text page.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "mupdf/fitz.h"

#define SCALE 100.0f

/* v * SCALE as the JSON printer's (int) cast gives it, without the undefined
   behaviour of casting NaN or an out-of-range float (damaged files have them):
   those give INT_MIN, which is what x86 returns for such a cast. */
static int
hundredths(float v)
{
    float x = v * SCALE;  /* in float, as the printer multiplies */
    if (!((double)x > (double)INT_MIN - 1.0 && (double)x < (double)INT_MAX + 1.0))
        return INT_MIN;
    return (int)x;
}

/* dict[key] += n */
static int
add_count(PyObject *dict, PyObject *key, long n)
{
    PyObject *old = PyDict_GetItemWithError(dict, key);
    if (!old && PyErr_Occurred())
        return -1;
    PyObject *sum = PyLong_FromLong((old ? PyLong_AsLong(old) : 0) + n);
    if (!sum)
        return -1;
    int rc = PyDict_SetItem(dict, key, sum);
    Py_DECREF(sum);
    return rc;
}

/* The name of a font, decoded once per call: a page uses a handful of fonts. */
typedef struct {
    fz_font *font[16];
    PyObject *name[16];
    int n;
} name_cache;

/* A new reference to the font's name; the cache keeps one of its own. */
static PyObject *
font_name(name_cache *cache, fz_font *font)
{
    for (int i = 0; i < cache->n; i++) {
        if (cache->font[i] == font) {
            Py_INCREF(cache->name[i]);
            return cache->name[i];
        }
    }
    PyObject *name = PyUnicode_DecodeUTF8(
        font ? font->name : "", font ? (Py_ssize_t)strnlen(font->name, sizeof(font->name)) : 0,
        "replace");
    if (name && cache->n < 16) {
        Py_INCREF(name);
        cache->font[cache->n] = font;
        cache->name[cache->n++] = name;
    }
    return name;
}

/* One line (its code points in buf[0:n]): the stripped text appended to ``lines``,
   its characters (U+0020 excluded) counted by size, and by font name or as bold. */
static int
add_line(PyObject *lines, PyObject *sizes, PyObject *names, name_cache *cache,
         const Py_UCS4 *buf, size_t n, fz_stext_char *first, long *bold, long *chars)
{
    size_t lo = 0, hi = n;
    while (lo < hi && Py_UNICODE_ISSPACE(buf[lo]))
        lo++;
    while (hi > lo && Py_UNICODE_ISSPACE(buf[hi - 1]))
        hi--;
    if (lo == hi)
        return 0;
    long count = (long)(hi - lo);
    for (size_t i = lo; i < hi; i++)
        count -= buf[i] == ' ';
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf + lo, (Py_ssize_t)(hi - lo));
    if (!text || PyList_Append(lines, text) < 0) {
        Py_XDECREF(text);
        return -1;
    }
    Py_DECREF(text);
    PyObject *size = PyLong_FromLong(hundredths(first->size));
    int rc = size ? add_count(sizes, size, count) : -1;
    Py_XDECREF(size);
    if (rc < 0)
        return -1;
    *chars += count;
    fz_font *font = first->font;
    if (font && font->flags.is_bold) {
        *bold += count;
        return 0;
    }
    PyObject *name = font_name(cache, font);
    rc = name ? add_count(names, name, count) : -1;
    Py_XDECREF(name);
    return rc;
}

static PyObject *
text_blocks(PyObject *Py_UNUSED(self), PyObject *arg)
{
    unsigned long long address = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    if (address == 0) {
        PyErr_SetString(PyExc_ValueError, "null fz_stext_page");
        return NULL;
    }
    fz_stext_page *page = (fz_stext_page *)(uintptr_t)address;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    name_cache cache = {.n = 0};
    Py_UCS4 stack[512];
    Py_UCS4 *buf = stack;
    size_t cap = sizeof(stack) / sizeof(stack[0]);

    for (fz_stext_block *block = page->first_block; block; block = block->next) {
        if (block->type != FZ_STEXT_BLOCK_TEXT)
            continue;
        PyObject *lines = PyList_New(0);
        PyObject *sizes = PyDict_New();
        PyObject *names = PyDict_New();
        long bold = 0, chars = 0;
        if (!lines || !sizes || !names)
            goto block_fail;
        for (fz_stext_line *line = block->u.t.first_line; line; line = line->next) {
            if (!line->first_char)
                continue;  /* the JSON printer writes no font for it: nothing to count */
            size_t n = 0;
            for (fz_stext_char *ch = line->first_char; ch; ch = ch->next) {
                if (n == cap) {
                    Py_UCS4 *bigger = PyMem_Malloc(2 * cap * sizeof(Py_UCS4));
                    if (!bigger) {
                        PyErr_NoMemory();
                        goto block_fail;
                    }
                    memcpy(bigger, buf, n * sizeof(Py_UCS4));
                    if (buf != stack)
                        PyMem_Free(buf);
                    buf = bigger;
                    cap *= 2;
                }
                int c = ch->c;
                if (c < 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                    c = 0xFFFD;
                buf[n++] = (Py_UCS4)c;
            }
            if (add_line(lines, sizes, names, &cache, buf, n, line->first_char, &bold, &chars) < 0)
                goto block_fail;
        }
        fz_rect b = block->bbox;
        PyObject *entry = Py_BuildValue(
            "(iiiiNNlNl)",
            hundredths(b.x0), hundredths(b.y0),
            hundredths(b.x1 - b.x0), hundredths(b.y1 - b.y0),
            lines, sizes, bold, names, chars);
        if (!entry || PyList_Append(out, entry) < 0) {
            Py_XDECREF(entry);
            goto fail;
        }
        Py_DECREF(entry);
        continue;
    block_fail:
        Py_XDECREF(lines);
        Py_XDECREF(sizes);
        Py_XDECREF(names);
        goto fail;
    }
    for (int i = 0; i < cache.n; i++)
        Py_DECREF(cache.name[i]);
    if (buf != stack)
        PyMem_Free(buf);
    return out;

fail:
    for (int i = 0; i < cache.n; i++)
        Py_DECREF(cache.name[i]);
    if (buf != stack)
        PyMem_Free(buf);
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"text_blocks", text_blocks, METH_O,
     "text_blocks(address) -> [(x, y, w, h, lines, sizes, bold, names, chars), ...]\n\n"
     "The text blocks of the fz_stext_page at ``address`` (PyMuPDF: "
     "``textpage.this.m_internal_value()``): bbox in 1/100 pt; the stripped "
     "non-empty lines; characters (U+0020 excluded) per font size in 1/100 pt; "
     "characters in fonts MuPDF flags bold; characters per name of the other "
     "fonts; all characters. A line's font is its first character's."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_stext", "MuPDF structured text, read in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__stext(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "FZ_VERSION", FZ_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
