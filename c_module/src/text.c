/*
 * text.c -- how C strings of Apache become Python str and back (DESIGN.md,
 * "Text and bytes"): headers and other protocol text are ISO-8859-1, like
 * PEP 3333; file system paths use Python's file system encoding.
 */
#include "mp_apache.h"

PyObject *mp_str_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)strlen(s), NULL);
}

PyObject *mp_str_array_tuple(const apr_array_header_t *arr)
{
    PyObject *out = PyTuple_New(arr ? arr->nelts : 0);
    int i;
    for (i = 0; out && arr && i < arr->nelts; i++) {
        PyObject *s = mp_str_or_none(APR_ARRAY_IDX(arr, i, const char *));
        if (!s) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i, s);
    }
    return out;
}

PyObject *mp_path_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(s);
}

static const char *copy_checked(apr_pool_t *p, PyObject *bytes, const char *what)
{
    char *data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(bytes, &data, &len) < 0)
        return NULL;
    if (memchr(data, '\0', (size_t)len)) {
        PyErr_Format(PyExc_ValueError, "%s must not contain a NUL character", what);
        return NULL;
    }
    return apr_pstrmemdup(p, data, (apr_size_t)len);
}

const char *mp_latin1_copy(apr_pool_t *p, PyObject *o, const char *what)
{
    PyObject *bytes;
    const char *res;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    bytes = PyUnicode_AsEncodedString(o, "latin-1", "strict");
    if (!bytes) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "%s %R cannot be encoded as ISO-8859-1 (HTTP header text); "
                     "encode it first, e.g. with urllib.parse.quote or RFC 2047",
                     what, o);
        return NULL;
    }
    res = copy_checked(p, bytes, what);
    Py_DECREF(bytes);
    return res;
}

const char *mp_path_copy(apr_pool_t *p, PyObject *o, const char *what)
{
    PyObject *bytes;
    const char *res;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    bytes = PyUnicode_EncodeFSDefault(o);
    if (!bytes)
        return NULL;
    res = copy_checked(p, bytes, what);
    Py_DECREF(bytes);
    return res;
}
