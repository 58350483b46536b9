/*
 * _psp.c - the extension module mod_python._psp: the PSP parser for Python.
 *
 *   parse(filename, dir=None, *, details=False) -> str
 *   parsestring(text, dir=None, *, details=False) -> str
 *   ParseError (a SyntaxError and a ValueError)
 *
 * With details=True both return (code, sources, lines): sources is a tuple
 * of (path or None, mtime_ns or None, size or None), one per file read in
 * order (the page first, then its includes), and lines has one
 * (source index, line) pair per line of code, telling where it came from.
 * mod_python.psp uses them to report errors at the page's lines and to
 * notice when an included file changes.
 *
 * Multi-phase initialisation (PEP 489); the only state, the exception type,
 * lives in the module state, so every (sub-)interpreter has its own.  The
 * parse runs with the GIL released: the parser touches no Python object.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include "psp_parser.h"

typedef struct {
    PyObject *ParseError;
} psp_state;

static psp_state *
get_state(PyObject *module)
{
    return (psp_state *)PyModule_GetState(module);
}

/* ------------------------------------------------------------------ results */

static PyObject *
path_or_none(const char *path)
{
    if (path == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(path);
}

static PyObject *
int_or_none(int64_t value)
{
    if (value < 0)
        Py_RETURN_NONE;
    return PyLong_FromLongLong((long long)value);
}

static PyObject *
build_sources(const psp_parser *p)
{
    PyObject *sources = PyTuple_New((Py_ssize_t)p->nsources);
    size_t i;

    if (sources == NULL)
        return NULL;
    for (i = 0; i < p->nsources; i++) {
        PyObject *item = PyTuple_New(3), *field;
        int k;

        if (item == NULL)
            goto error;
        PyTuple_SET_ITEM(sources, (Py_ssize_t)i, item);
        for (k = 0; k < 3; k++) {
            field = k == 0 ? path_or_none(p->sources[i].path)
                  : k == 1 ? int_or_none(p->sources[i].mtime_ns)
                           : int_or_none(p->sources[i].size);
            if (field == NULL)
                goto error;
            PyTuple_SET_ITEM(item, k, field);
        }
    }
    return sources;
error:
    Py_DECREF(sources);
    return NULL;
}

static PyObject *
build_lines(const psp_parser *p)
{
    PyObject *lines = PyTuple_New((Py_ssize_t)p->nmap);
    size_t i;

    if (lines == NULL)
        return NULL;
    for (i = 0; i < p->nmap; i++) {
        PyObject *item = Py_BuildValue("(il)", p->map_source[i], p->map_line[i]);

        if (item == NULL) {
            Py_DECREF(lines);
            return NULL;
        }
        PyTuple_SET_ITEM(lines, (Py_ssize_t)i, item);
    }
    return lines;
}

static PyObject *
build_result(const psp_parser *p, int details)
{
    PyObject *code, *result;

    code = PyUnicode_DecodeUTF8(p->out.data ? p->out.data : "", (Py_ssize_t)p->out.len,
                                "strict");
    if (code == NULL || !details)
        return code;
    result = PyTuple_New(3);
    if (result == NULL) {
        Py_DECREF(code);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, code);
    PyTuple_SET_ITEM(result, 1, build_sources(p));
    PyTuple_SET_ITEM(result, 2, build_lines(p));
    if (PyTuple_GET_ITEM(result, 1) == NULL || PyTuple_GET_ITEM(result, 2) == NULL) {
        Py_DECREF(result); /* a NULL item is skipped by the tuple's dealloc */
        return NULL;
    }
    return result;
}

/* ------------------------------------------------------------------- errors */

static void
raise_os_error(const psp_parser *p)
{
    PyObject *filename, *message, *exc;

    filename = path_or_none(p->error_path);
    if (filename == NULL)
        return;
    if (p->error_message[0])
        message = PyUnicode_FromFormat("%s (%s)", strerror(p->error_errno), p->error_message);
    else
        message = PyUnicode_FromString(strerror(p->error_errno));
    if (message == NULL) {
        Py_DECREF(filename);
        return;
    }
    /* OSError(errno, ...) picks the subclass: FileNotFoundError, ... */
    exc = PyObject_CallFunction(PyExc_OSError, "iOO", p->error_errno, message, filename);
    Py_DECREF(message);
    Py_DECREF(filename);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

static void
raise_parse_error(psp_state *state, const psp_parser *p)
{
    PyObject *filename, *text, *message, *exc;

    filename = p->error_path ? PyUnicode_DecodeFSDefault(p->error_path)
                             : PyUnicode_FromString("<string>");
    if (filename == NULL)
        return;
    if (p->error_text != NULL)
        text = PyUnicode_DecodeUTF8(p->error_text, (Py_ssize_t)strlen(p->error_text), "replace");
    else {
        Py_INCREF(Py_None);
        text = Py_None;
    }
    if (text == NULL) {
        Py_DECREF(filename);
        return;
    }
    /* The message quotes the page, perhaps cut in the middle of a character. */
    message = PyUnicode_DecodeUTF8(p->error_message, (Py_ssize_t)strlen(p->error_message),
                                   "replace");
    if (message == NULL) {
        Py_DECREF(filename);
        Py_DECREF(text);
        return;
    }
    /* SyntaxError(message, (filename, lineno, offset, text)) */
    exc = PyObject_CallFunction(state->ParseError, "O(OlOO)", message, filename, p->error_line,
                                Py_None, text);
    Py_DECREF(message);
    Py_DECREF(filename);
    Py_DECREF(text);
    if (exc != NULL) {
        PyErr_SetObject(state->ParseError, exc);
        Py_DECREF(exc);
    }
}

static PyObject *
finish(PyObject *module, psp_parser *p, int rc, int details)
{
    PyObject *result = NULL;

    if (rc == 0)
        result = build_result(p, details);
    else if (p->error == PSP_ERR_NOMEM)
        PyErr_NoMemory();
    else if (p->error == PSP_ERR_OS)
        raise_os_error(p);
    else
        raise_parse_error(get_state(module), p);
    psp_parser_free(p);
    return result;
}

/* ---------------------------------------------------------------- functions */

/* O& converter: a path (str, bytes, os.PathLike) or None. */
static int
optional_path(PyObject *obj, void *result)
{
    PyObject **out = (PyObject **)result;

    if (obj == NULL) { /* clean-up call after a later argument failed */
        Py_CLEAR(*out);
        return 1;
    }
    if (obj == Py_None) {
        *out = NULL;
        return 1;
    }
    return PyUnicode_FSConverter(obj, result);
}

PyDoc_STRVAR(parse_doc,
"parse(filename, dir=None, *, details=False) -> str\n\n"
"Parse the PSP page in the file dir + filename (plain concatenation, as the\n"
"manual says) and return the Python code it becomes. Relative include paths\n"
"are resolved against dir if given, else against the directory of the file\n"
"that contains the include directive.\n\n"
"Raises ParseError (a SyntaxError and a ValueError) for a malformed page,\n"
"with the file and line, and OSError when a file cannot be read.");

static PyObject *
psp_parse(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"filename", "dir", "details", NULL};
    PyObject *filename = NULL, *dir = NULL, *result;
    psp_parser p;
    int details = 0, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|O&$p:parse", kwlist,
                                     PyUnicode_FSConverter, &filename, optional_path, &dir,
                                     &details))
        return NULL;
    psp_parser_init(&p);
    Py_BEGIN_ALLOW_THREADS
    rc = psp_parse_file(&p, PyBytes_AS_STRING(filename), dir ? PyBytes_AS_STRING(dir) : NULL);
    Py_END_ALLOW_THREADS
    result = finish(module, &p, rc, details);
    Py_DECREF(filename);
    Py_XDECREF(dir);
    return result;
}

PyDoc_STRVAR(parsestring_doc,
"parsestring(text, dir=None, *, details=False) -> str\n\n"
"Parse the PSP page text (str, or bytes in UTF-8) and return the Python code\n"
"it becomes. Relative include paths need dir to be resolved against.\n\n"
"Raises ParseError (a SyntaxError and a ValueError) for a malformed page and\n"
"OSError when an included file cannot be read.");

static PyObject *
psp_parsestring(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"text", "dir", "details", NULL};
    PyObject *text, *dir = NULL, *result;
    const char *data;
    Py_ssize_t len;
    psp_parser p;
    int details = 0, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O&$p:parsestring", kwlist, &text,
                                     optional_path, &dir, &details))
        return NULL;
    if (PyUnicode_Check(text))
        data = PyUnicode_AsUTF8AndSize(text, &len);
    else if (PyBytes_Check(text)) {
        data = PyBytes_AS_STRING(text);
        len = PyBytes_GET_SIZE(text);
    }
    else {
        PyErr_Format(PyExc_TypeError, "parsestring() needs a str or bytes, not %.200s",
                     Py_TYPE(text)->tp_name);
        data = NULL;
    }
    if (data == NULL) {
        Py_XDECREF(dir);
        return NULL;
    }
    if ((size_t)len > PSP_MAX_SOURCE_SIZE) {
        Py_XDECREF(dir);
        PyErr_SetString(PyExc_ValueError, "parsestring(): the text is too large");
        return NULL;
    }
    psp_parser_init(&p);
    /* text stays alive (the caller holds it) and immutable while unlocked. */
    Py_BEGIN_ALLOW_THREADS
    rc = psp_parse_string(&p, data, (size_t)len, dir ? PyBytes_AS_STRING(dir) : NULL);
    Py_END_ALLOW_THREADS
    result = finish(module, &p, rc, details);
    Py_XDECREF(dir);
    return result;
}

static PyMethodDef psp_methods[] = {
    {"parse", (PyCFunction)(void (*)(void))psp_parse, METH_VARARGS | METH_KEYWORDS, parse_doc},
    {"parsestring", (PyCFunction)(void (*)(void))psp_parsestring, METH_VARARGS | METH_KEYWORDS,
     parsestring_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------- module */

PyDoc_STRVAR(ParseError_doc,
"A PSP page that cannot be parsed: an unclosed <% or <%--, an empty <%= %>,\n"
"a bad directive, an include loop, bytes that are not UTF-8.\n\n"
"A SyntaxError (filename and lineno tell where) and a ValueError.");

static int
psp_exec(PyObject *module)
{
    psp_state *state = get_state(module);
    PyObject *bases;

    bases = PyTuple_Pack(2, PyExc_SyntaxError, PyExc_ValueError);
    if (bases == NULL)
        return -1;
    state->ParseError =
        PyErr_NewExceptionWithDoc("mod_python._psp.ParseError", ParseError_doc, bases, NULL);
    Py_DECREF(bases);
    if (state->ParseError == NULL)
        return -1;
    Py_INCREF(state->ParseError);
    if (PyModule_AddObject(module, "ParseError", state->ParseError) < 0) {
        Py_DECREF(state->ParseError); /* not stolen on failure */
        return -1;
    }
    if (PyModule_AddIntConstant(module, "MAX_INCLUDE_DEPTH", PSP_MAX_INCLUDE_DEPTH) < 0)
        return -1;
    return 0;
}

static int
psp_traverse(PyObject *module, visitproc visit, void *arg)
{
    psp_state *state = get_state(module);

    if (state != NULL)
        Py_VISIT(state->ParseError);
    return 0;
}

static int
psp_clear(PyObject *module)
{
    psp_state *state = get_state(module);

    if (state != NULL)
        Py_CLEAR(state->ParseError);
    return 0;
}

static void
psp_free(void *module)
{
    psp_clear((PyObject *)module);
}

static PyModuleDef_Slot psp_slots[] = {
    {Py_mod_exec, (void *)psp_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
"The PSP parser of mod_python (a flex scanner): PSP pages to Python code.\n\n"
"Use it through mod_python.psp; see parse() and parsestring().");

static struct PyModuleDef psp_module = {
    PyModuleDef_HEAD_INIT,
    "mod_python._psp",
    module_doc,
    sizeof(psp_state),
    psp_methods,
    psp_slots,
    psp_traverse,
    psp_clear,
    psp_free,
};

PyMODINIT_FUNC
PyInit__psp(void)
{
    return PyModuleDef_Init(&psp_module);
}
