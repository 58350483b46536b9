/*
 * parseqs.c -- _apache.parse_qs() and _apache.parse_qsl(), the query string
 * parsers of mod_python.util (manual 4.6), in C.
 *
 * For a str they return exactly what urllib.parse.parse_qs() / parse_qsl()
 * of the running Python return with their defaults (encoding 'utf-8',
 * errors 'replace', separator '&'):
 *
 *   - fields are separated by '&' only (';' is data, as in urllib since
 *     3.9.2); a field is split at its first '=';
 *   - in a name or a value '+' is a space and %XX (two hex digits, either
 *     case) the byte XX; a '%' without two hex digits after it stays;
 *   - the bytes of each run of ASCII characters are decoded as UTF-8 with
 *     errors='replace'; the other characters of a str are kept as they are
 *     (a lone surrogate too), as urllib.parse.unquote() does;
 *   - empty fields are skipped, and so are blank values (a field without
 *     '=' or with nothing after it) unless keep_blank_values is true;
 *   - with strict_parsing a field without '=' (an empty one too) raises
 *     ValueError("bad query field: %r").  Like urllib, Python 3.11 and later
 *     see no field in an empty query string, 3.9 and 3.10 one empty field.
 *
 * A bytes-like query string is parsed the same way, its bytes (raw and
 * percent-decoded alike) decoded as UTF-8 with errors='replace': names and
 * values are always str.  None is an empty query string (req.args is None
 * when the URL has none), as urllib.parse takes it.
 *
 * One pass over the buffer: each name and value is unescaped into a scratch
 * buffer (eight bytes at a time where there is no '%') and becomes a str
 * with one PyUnicode_DecodeUTF8().
 */
#include "mp_parseqs.h"

typedef struct {
    int is_str;                 /* the query string is a str (or None) */
    const unsigned char *buf;   /* byte mode: an ASCII str's or a buffer's bytes */
    PyObject *qs;               /* code point mode: a str with non-ASCII characters */
    int kind;                   /* code point mode: its PyUnicode_KIND, else 0 */
    const void *data;           /* code point mode: its PyUnicode_DATA */
    Py_ssize_t len;             /* in bytes or code points */
    int keep_blank, strict;
    char *scratch;              /* the unescaped bytes of one name or value */
    Py_UCS4 *wide;              /* code point mode: one name or value being built */
    PyObject *out;              /* the list of (name, value) or the dict name -> [values] */
    int as_dict;
} qs_parser;

/* 1 + the value of each hex digit, 0 for any other byte. */
static const unsigned char hex_digits[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
    ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The byte that %<c1><c2> stands for, or -1 if c1 and c2 are not two hex digits. */
static inline int hex_byte(Py_UCS4 c1, Py_UCS4 c2)
{
    if (c1 > 0xFF || c2 > 0xFF || !hex_digits[c1] || !hex_digits[c2])
        return -1;
    return (hex_digits[c1] - 1) * 16 + hex_digits[c2] - 1;
}

/* The first `c` in [start, end), or -1. */
static Py_ssize_t find_char(const qs_parser *p, char c, Py_ssize_t start, Py_ssize_t end)
{
    if (start >= end)
        return -1;
    if (!p->kind) {
        const unsigned char *hit = memchr(p->buf + start, c, (size_t)(end - start));
        return hit ? hit - p->buf : -1;
    }
    for (; start < end; start++)
        if (PyUnicode_READ(p->kind, p->data, start) == (Py_UCS4)c)
            return start;
    return -1;
}

/* 0x80 in each byte of w that is c, 0 in the others: x is zero where w has c,
 * and the sum sets the high bit of every other byte without a carry. */
static inline uint64_t bytes_equal(uint64_t w, unsigned char c)
{
    const uint64_t ones = 0x0101010101010101ULL, low7 = 0x7F7F7F7F7F7F7F7FULL;
    uint64_t x = w ^ (ones * c);
    return ~(((x & low7) + low7) | x) & (ones << 7);
}

/* Byte mode: '+' -> ' ', %XX -> byte XX, any other byte as it is, then UTF-8.
 * Eight bytes at a time while there is no '%' in them ('+' is 0x2B, ' ' 0x20). */
static PyObject *decode_bytes(qs_parser *p, Py_ssize_t start, Py_ssize_t end)
{
    const unsigned char *s = p->buf;
    char *out = p->scratch;
    Py_ssize_t i = start, n = 0;

    while (i < end) {
        Py_ssize_t stop = end;

        if (end - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!bytes_equal(w, '%')) {
                w -= (bytes_equal(w, '+') >> 7) * ('+' - ' ');
                memcpy(out + n, &w, 8);
                n += 8;
                i += 8;
                continue;
            }
            stop = i + 8;
        }
        while (i < stop) {
            unsigned char c = s[i];
            int byte;
            if (c == '%' && i + 2 < end && (byte = hex_byte(s[i + 1], s[i + 2])) >= 0) {
                out[n++] = (char)byte;
                i += 3;
                continue;
            }
            out[n++] = (char)(c == '+' ? ' ' : c);
            i++;
        }
    }
    return PyUnicode_DecodeUTF8(out, n, "replace");
}

/*
 * Code point mode, as urllib.parse.unquote_plus() does it: each maximal run
 * of ASCII characters unescaped and decoded on its own, the other characters
 * kept.  The result has at most end - start code points (decoding never
 * yields more characters than it has bytes), so p->wide is large enough.
 */
static PyObject *decode_wide(qs_parser *p, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t i = start, n = 0;

    while (i < end) {
        Py_UCS4 c = PyUnicode_READ(p->kind, p->data, i);
        Py_ssize_t run_start = i, m = 0, k;
        int high = 0;           /* an escape gave a byte beyond ASCII */
        PyObject *run;

        if (c >= 0x80) {
            p->wide[n++] = c;
            i++;
            continue;
        }
        while (i < end && (c = PyUnicode_READ(p->kind, p->data, i)) < 0x80) {
            if (c == '+') {
                c = ' ';
            }
            else if (c == '%' && i + 2 < end) {
                int byte = hex_byte(PyUnicode_READ(p->kind, p->data, i + 1),
                                    PyUnicode_READ(p->kind, p->data, i + 2));
                if (byte >= 0) {
                    p->scratch[m++] = (char)byte;
                    high |= byte >= 0x80;
                    i += 3;
                    continue;
                }
            }
            p->scratch[m++] = (char)c;
            i++;
        }
        if (run_start == start && i == end)     /* the name or value is all ASCII */
            return PyUnicode_DecodeUTF8(p->scratch, m, "replace");
        if (!high) {            /* ASCII bytes decode to themselves */
            for (k = 0; k < m; k++)
                p->wide[n++] = (unsigned char)p->scratch[k];
            continue;
        }
        if (!(run = PyUnicode_DecodeUTF8(p->scratch, m, "replace")))
            return NULL;
        if (!PyUnicode_AsUCS4(run, p->wide + n, p->len - n, 0)) {
            Py_DECREF(run);
            return NULL;
        }
        n += PyUnicode_GET_LENGTH(run);
        Py_DECREF(run);
    }
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, p->wide, n);
}

static PyObject *decode(qs_parser *p, Py_ssize_t start, Py_ssize_t end)
{
    return p->kind ? decode_wide(p, start, end) : decode_bytes(p, start, end);
}

/* ValueError naming the field [start, end) as urllib.parse does. */
static int bad_field(const qs_parser *p, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *field;

    if (p->kind)
        field = PyUnicode_Substring(p->qs, start, end);
    else if (p->is_str)
        field = PyUnicode_FromStringAndSize((const char *)p->buf + start, end - start);
    else
        field = PyBytes_FromStringAndSize((const char *)p->buf + start, end - start);
    if (field) {
        PyErr_Format(PyExc_ValueError, "bad query field: %R", field);
        Py_DECREF(field);
    }
    return -1;
}

/* Append (name, value) to the list or value to the dict's list for name. */
static int add_pair(qs_parser *p, PyObject *name, PyObject *value)
{
    PyObject *item;
    int rc;

    if (!p->as_dict) {
        if (!(item = PyTuple_New(2)))
            return -1;
        Py_INCREF(name);
        Py_INCREF(value);
        PyTuple_SET_ITEM(item, 0, name);
        PyTuple_SET_ITEM(item, 1, value);
        rc = PyList_Append(p->out, item);
        Py_DECREF(item);
        return rc;
    }
    if ((item = PyDict_GetItemWithError(p->out, name)))    /* borrowed */
        return PyList_Append(item, value);
    if (PyErr_Occurred() || !(item = PyList_New(1)))
        return -1;
    Py_INCREF(value);
    PyList_SET_ITEM(item, 0, value);
    rc = PyDict_SetItem(p->out, name, item);
    Py_DECREF(item);
    return rc;
}

static int parse(qs_parser *p)
{
    Py_ssize_t pos, end;

#if PY_VERSION_HEX >= 0x030B0000
    if (p->len == 0)
        return 0;
#endif
    for (pos = 0; pos <= p->len; pos = end + 1) {
        Py_ssize_t eq, value_start;
        PyObject *name, *value;
        int rc;

        if ((end = find_char(p, '&', pos, p->len)) < 0)
            end = p->len;
        if (end == pos && !p->strict)
            continue;
        if ((eq = find_char(p, '=', pos, end)) >= 0) {
            value_start = eq + 1;
        }
        else if (p->strict) {
            return bad_field(p, pos, end);
        }
        else {
            eq = value_start = end;
        }
        if (value_start == end && !p->keep_blank)
            continue;
        if (!(name = decode(p, pos, eq)))
            return -1;
        if (!(value = decode(p, value_start, end))) {
            Py_DECREF(name);
            return -1;
        }
        rc = add_pair(p, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Query strings up to this long are unescaped on the stack. */
#define SMALL_QUERY 512

static PyObject *parse_query(PyObject *args, PyObject *kw, const char *format,
                             const char *fname, int as_dict)
{
    static char *kwlist[] = {"qs", "keep_blank_values", "strict_parsing", NULL};
    PyObject *qs, *out = NULL;
    Py_buffer view;
    qs_parser p;
    char small[SMALL_QUERY];

    memset(&p, 0, sizeof(p));
    view.obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, format, kwlist, &qs, &p.keep_blank, &p.strict))
        return NULL;
    p.as_dict = as_dict;
    if (qs == Py_None) {
        p.is_str = 1;
        p.buf = (const unsigned char *)"";
    }
    else if (PyUnicode_Check(qs)) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(qs) < 0)
            return NULL;
#endif
        p.is_str = 1;
        p.len = PyUnicode_GET_LENGTH(qs);
        if (PyUnicode_IS_ASCII(qs)) {
            p.buf = PyUnicode_1BYTE_DATA(qs);
        }
        else {
            p.qs = qs;
            p.kind = (int)PyUnicode_KIND(qs);
            p.data = PyUnicode_DATA(qs);
        }
    }
    else if (PyObject_GetBuffer(qs, &view, PyBUF_SIMPLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError))
            PyErr_Format(PyExc_TypeError,
                         "%s() argument 'qs' must be str, a bytes-like object or None, "
                         "not %.100s", fname, Py_TYPE(qs)->tp_name);
        return NULL;
    }
    else {
        p.buf = view.buf;
        p.len = view.len;
    }

    p.scratch = p.len <= SMALL_QUERY ? small : PyMem_Malloc((size_t)p.len);
    if (p.kind)
        p.wide = PyMem_New(Py_UCS4, p.len > 0 ? (size_t)p.len : 1);
    if (!p.scratch || (p.kind && !p.wide)) {
        PyErr_NoMemory();
        goto done;
    }
    if ((out = as_dict ? PyDict_New() : PyList_New(0))) {
        p.out = out;
        if (parse(&p) < 0)
            Py_CLEAR(out);
    }
done:
    if (p.scratch != small)
        PyMem_Free(p.scratch);
    PyMem_Free(p.wide);
    if (view.obj)
        PyBuffer_Release(&view);
    return out;
}

PyObject *mp_parse_qs(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    return parse_query(args, kw, "O|pp:parse_qs", "parse_qs", 1);
}

PyObject *mp_parse_qsl(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    return parse_query(args, kw, "O|pp:parse_qsl", "parse_qsl", 0);
}
