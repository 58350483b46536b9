/*
 * _apache.c -- the built-in module that mod_python.apache imports.
 *
 * Multi-phase initialisation (PEP 489): every interpreter gets its own
 * module object whose state holds its own copies of the types.
 */
#include "mp_apache.h"
#include "mp_mutex.h"
#include "mp_parseqs.h"

mp_module_state *mp_state_of(PyObject *c_module)
{
    mp_module_state *st = PyModule_GetState(c_module);
    if (!st)
        PyErr_SetString(PyExc_SystemError, "mod_python: _apache has no state");
    return st;
}

static PyObject *apache_log_error(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"message", "level", "server", NULL};
    const char *msg;
    int level = APLOG_ERR;
    PyObject *server = Py_None;
    server_rec *s = ap_server_conf;
    mp_module_state *st = mp_state_of(module);

    if (!st || !PyArg_ParseTupleAndKeywords(args, kw, "s|iO:log_error", kwlist, &msg, &level,
                                            &server))
        return NULL;
    if (server != Py_None && !(s = mp_server_rec_of(st, server)))
        return NULL;
    ap_log_error(APLOG_MARK, level, 0, s, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *apache_make_table(PyObject *module, PyObject *unused)
{
    mp_module_state *st = mp_state_of(module);
    (void)unused;
    return st ? mp_table_new_standalone(st) : NULL;
}

static PyObject *apache_server_root(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return mp_path_or_none(ap_server_root);
}

static PyObject *apache_mpm_query(PyObject *module, PyObject *args)
{
    int code, result = 0;
    (void)module;
    if (!PyArg_ParseTuple(args, "i:mpm_query", &code))
        return NULL;
    if (ap_mpm_query(code, &result) != APR_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "mpm_query(): %d is not a query this MPM answers "
                     "(use apache.AP_MPMQ_*)", code);
        return NULL;
    }
    return PyLong_FromLong(result);
}

static PyObject *apache_exists_config_define(PyObject *module, PyObject *args)
{
    const char *name;
    (void)module;
    if (!PyArg_ParseTuple(args, "s:exists_config_define", &name))
        return NULL;
    return PyBool_FromLong(ap_exists_config_define(name));
}

static PyObject *apache_stat(PyObject *module, PyObject *args)
{
    mp_module_state *st = mp_state_of(module);
    PyObject *fname_obj, *res = NULL;
    const char *fname;
    apr_int32_t wanted = APR_FINFO_MIN;
    apr_pool_t *p;
    apr_finfo_t fi;
    apr_status_t rc;

    if (!st || !PyArg_ParseTuple(args, "U|i:stat", &fname_obj, &wanted))
        return NULL;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return PyErr_NoMemory();
    if (!(fname = mp_path_copy(p, fname_obj, "stat() file name")))
        goto done;
    Py_BEGIN_ALLOW_THREADS
    rc = apr_stat(&fi, fname, wanted, p);
    Py_END_ALLOW_THREADS
    if (rc != APR_SUCCESS && rc != APR_INCOMPLETE) {
        if (!APR_STATUS_IS_ENOENT(rc) && !APR_STATUS_IS_ENOTDIR(rc)) {
            char buf[256];
            PyErr_Format(PyExc_OSError, "stat(%R): %s", fname_obj,
                         apr_strerror(rc, buf, sizeof(buf)));
            goto done;
        }
        /* A missing file is an answer, not an error: filetype APR_NOFILE. */
        memset(&fi, 0, sizeof(fi));
        fi.filetype = APR_NOFILE;
    }
    fi.fname = fname;
    res = mp_finfo_wrap(st, &fi);
done:
    apr_pool_destroy(p);
    return res;
}

/* (directive, args) for a directive, (directive, args, [children]) for a section. */
static PyObject *config_tree_list(const ap_directive_t *d)
{
    PyObject *list = PyList_New(0);
    for (; list && d; d = d->next) {
        PyObject *item;
        if (d->first_child) {
            PyObject *children = config_tree_list(d->first_child);
            item = children ? Py_BuildValue("(ssN)", d->directive, d->args ? d->args : "",
                                            children)
                            : NULL;
        }
        else {
            item = Py_BuildValue("(ss)", d->directive, d->args ? d->args : "");
        }
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

static PyObject *apache_config_tree(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return config_tree_list(ap_conftree);
}

static PyMethodDef apache_functions[] = {
    {"mpm_query", apache_mpm_query, METH_VARARGS,
     "mpm_query(code) -> int: ask the MPM, code one of apache.AP_MPMQ_*"},
    {"exists_config_define", apache_exists_config_define, METH_VARARGS,
     "exists_config_define(name) -> True if httpd was started with -Dname"},
    {"stat", apache_stat, METH_VARARGS,
     "stat(fname[, wanted]) -> finfo: wanted is APR_FINFO_* bits (default APR_FINFO_MIN)"},
    {"config_tree", apache_config_tree, METH_NOARGS,
     "a copy of the server configuration: (directive, args[, children]) tuples"},
    {"log_error", (PyCFunction)(void (*)(void))apache_log_error, METH_VARARGS | METH_KEYWORDS,
     "log_error(message[, level, server]): write to the error log"},
    {"make_table", apache_make_table, METH_NOARGS, "a new empty table"},
    {"server_root", apache_server_root, METH_NOARGS, "the ServerRoot"},
    {"_global_lock", (PyCFunction)(void (*)(void))mp_global_lock, METH_VARARGS | METH_KEYWORDS,
     "_global_lock(server, key, index=-1): take a global mutex, waiting for it"},
    {"_global_trylock", (PyCFunction)(void (*)(void))mp_global_trylock,
     METH_VARARGS | METH_KEYWORDS,
     "_global_trylock(server, key, index=-1) -> bool: take a global mutex if it is free"},
    {"_global_unlock", (PyCFunction)(void (*)(void))mp_global_unlock,
     METH_VARARGS | METH_KEYWORDS, "_global_unlock(server, key, index=-1): release it"},
    {"parse_qs", (PyCFunction)(void (*)(void))mp_parse_qs, METH_VARARGS | METH_KEYWORDS,
     "parse_qs(qs, keep_blank_values=0, strict_parsing=0) -> {name: [value, ...]}: "
     "urllib.parse.parse_qs() in C"},
    {"parse_qsl", (PyCFunction)(void (*)(void))mp_parse_qsl, METH_VARARGS | METH_KEYWORDS,
     "parse_qsl(qs, keep_blank_values=0, strict_parsing=0) -> [(name, value), ...]: "
     "urllib.parse.parse_qsl() in C"},
    {NULL}
};

typedef struct {
    const char *name;
    long value;
} mp_constant;

static const mp_constant apache_constants[] = {
    {"OK", OK}, {"DECLINED", DECLINED}, {"DONE", DONE},
    {"APLOG_EMERG", APLOG_EMERG}, {"APLOG_ALERT", APLOG_ALERT}, {"APLOG_CRIT", APLOG_CRIT},
    {"APLOG_ERR", APLOG_ERR}, {"APLOG_WARNING", APLOG_WARNING},
    {"APLOG_NOTICE", APLOG_NOTICE}, {"APLOG_INFO", APLOG_INFO}, {"APLOG_DEBUG", APLOG_DEBUG},
    {"APLOG_NOERRNO", APLOG_NOERRNO},
    {"M_GET", M_GET}, {"M_PUT", M_PUT}, {"M_POST", M_POST}, {"M_DELETE", M_DELETE},
    {"M_CONNECT", M_CONNECT}, {"M_OPTIONS", M_OPTIONS}, {"M_TRACE", M_TRACE},
    {"M_PATCH", M_PATCH}, {"M_PROPFIND", M_PROPFIND}, {"M_PROPPATCH", M_PROPPATCH},
    {"M_MKCOL", M_MKCOL}, {"M_COPY", M_COPY}, {"M_MOVE", M_MOVE}, {"M_LOCK", M_LOCK},
    {"M_UNLOCK", M_UNLOCK}, {"M_VERSION_CONTROL", M_VERSION_CONTROL},
    {"M_CHECKOUT", M_CHECKOUT}, {"M_UNCHECKOUT", M_UNCHECKOUT}, {"M_CHECKIN", M_CHECKIN},
    {"M_UPDATE", M_UPDATE}, {"M_LABEL", M_LABEL}, {"M_REPORT", M_REPORT},
    {"M_MKWORKSPACE", M_MKWORKSPACE}, {"M_MKACTIVITY", M_MKACTIVITY},
    {"M_BASELINE_CONTROL", M_BASELINE_CONTROL}, {"M_MERGE", M_MERGE},
    {"M_INVALID", M_INVALID},
    {"PROXYREQ_NONE", PROXYREQ_NONE}, {"PROXYREQ_PROXY", PROXYREQ_PROXY},
    {"PROXYREQ_REVERSE", PROXYREQ_REVERSE}, {"PROXYREQ_RESPONSE", PROXYREQ_RESPONSE},
    {"AP_CONN_UNKNOWN", AP_CONN_UNKNOWN}, {"AP_CONN_CLOSE", AP_CONN_CLOSE},
    {"AP_CONN_KEEPALIVE", AP_CONN_KEEPALIVE},
    {"REQUEST_NO_BODY", REQUEST_NO_BODY},
    {"REQUEST_CHUNKED_ERROR", REQUEST_CHUNKED_ERROR},
    {"REQUEST_CHUNKED_DECHUNK", REQUEST_CHUNKED_DECHUNK},
    {"REMOTE_HOST", REMOTE_HOST}, {"REMOTE_NAME", REMOTE_NAME},
    {"REMOTE_NOLOOKUP", REMOTE_NOLOOKUP}, {"REMOTE_DOUBLE_REV", REMOTE_DOUBLE_REV},
    {"AP_MPMQ_NOT_SUPPORTED", AP_MPMQ_NOT_SUPPORTED}, {"AP_MPMQ_STATIC", AP_MPMQ_STATIC},
    {"AP_MPMQ_DYNAMIC", AP_MPMQ_DYNAMIC},
    {"AP_MPMQ_MAX_DAEMON_USED", AP_MPMQ_MAX_DAEMON_USED},
    {"AP_MPMQ_IS_THREADED", AP_MPMQ_IS_THREADED}, {"AP_MPMQ_IS_FORKED", AP_MPMQ_IS_FORKED},
    {"AP_MPMQ_HARD_LIMIT_DAEMONS", AP_MPMQ_HARD_LIMIT_DAEMONS},
    {"AP_MPMQ_HARD_LIMIT_THREADS", AP_MPMQ_HARD_LIMIT_THREADS},
    {"AP_MPMQ_MAX_THREADS", AP_MPMQ_MAX_THREADS},
    {"AP_MPMQ_MIN_SPARE_DAEMONS", AP_MPMQ_MIN_SPARE_DAEMONS},
    {"AP_MPMQ_MIN_SPARE_THREADS", AP_MPMQ_MIN_SPARE_THREADS},
    {"AP_MPMQ_MAX_SPARE_DAEMONS", AP_MPMQ_MAX_SPARE_DAEMONS},
    {"AP_MPMQ_MAX_SPARE_THREADS", AP_MPMQ_MAX_SPARE_THREADS},
    {"AP_MPMQ_MAX_REQUESTS_DAEMON", AP_MPMQ_MAX_REQUESTS_DAEMON},
    {"AP_MPMQ_MAX_DAEMONS", AP_MPMQ_MAX_DAEMONS},
    {"APR_NOFILE", APR_NOFILE}, {"APR_REG", APR_REG}, {"APR_DIR", APR_DIR},
    {"APR_CHR", APR_CHR}, {"APR_BLK", APR_BLK}, {"APR_PIPE", APR_PIPE}, {"APR_LNK", APR_LNK},
    {"APR_SOCK", APR_SOCK}, {"APR_UNKFILE", APR_UNKFILE},
    {"APR_FINFO_LINK", APR_FINFO_LINK}, {"APR_FINFO_MTIME", APR_FINFO_MTIME},
    {"APR_FINFO_CTIME", APR_FINFO_CTIME}, {"APR_FINFO_ATIME", APR_FINFO_ATIME},
    {"APR_FINFO_SIZE", APR_FINFO_SIZE}, {"APR_FINFO_CSIZE", APR_FINFO_CSIZE},
    {"APR_FINFO_DEV", APR_FINFO_DEV}, {"APR_FINFO_INODE", APR_FINFO_INODE},
    {"APR_FINFO_NLINK", APR_FINFO_NLINK}, {"APR_FINFO_TYPE", APR_FINFO_TYPE},
    {"APR_FINFO_USER", APR_FINFO_USER}, {"APR_FINFO_GROUP", APR_FINFO_GROUP},
    {"APR_FINFO_UPROT", APR_FINFO_UPROT}, {"APR_FINFO_GPROT", APR_FINFO_GPROT},
    {"APR_FINFO_WPROT", APR_FINFO_WPROT}, {"APR_FINFO_ICASE", APR_FINFO_ICASE},
    {"APR_FINFO_NAME", APR_FINFO_NAME}, {"APR_FINFO_MIN", APR_FINFO_MIN},
    {"APR_FINFO_IDENT", APR_FINFO_IDENT}, {"APR_FINFO_OWNER", APR_FINFO_OWNER},
    {"APR_FINFO_PROT", APR_FINFO_PROT}, {"APR_FINFO_NORM", APR_FINFO_NORM},
    {"APR_FINFO_DIRENT", APR_FINFO_DIRENT},
    {"MODULE_MAGIC_NUMBER_MAJOR", MODULE_MAGIC_NUMBER_MAJOR},
    {"MODULE_MAGIC_NUMBER_MINOR", MODULE_MAGIC_NUMBER_MINOR},
    {NULL, 0}
};

static int apache_exec(PyObject *module)
{
    mp_module_state *st = PyModule_GetState(module);
    const mp_constant *c;

    st->request_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mp_request_spec, NULL);
    st->table_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mp_table_spec, NULL);
    st->server_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mp_server_spec, NULL);
    st->conn_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mp_conn_spec, NULL);
    st->finfo_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mp_finfo_spec, NULL);
    if (!st->request_type || !st->table_type || !st->server_type || !st->conn_type
        || !st->finfo_type)
        return -1;
    if (PyModule_AddType(module, st->finfo_type) < 0)
        return -1;
    st->filter_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mp_filter_spec, NULL);
    if (!st->filter_type || PyModule_AddType(module, st->filter_type) < 0)
        return -1;
    if (PyModule_AddType(module, st->request_type) < 0
        || PyModule_AddType(module, st->table_type) < 0
        || PyModule_AddType(module, st->server_type) < 0
        || PyModule_AddType(module, st->conn_type) < 0)
        return -1;
    for (c = apache_constants; c->name; c++)
        if (PyModule_AddIntConstant(module, c->name, c->value) < 0)
            return -1;
    if (PyModule_AddStringConstant(module, "SERVER_BUILT", ap_get_server_built()) < 0
        || PyModule_AddStringConstant(module, "SERVER_VERSION", AP_SERVER_BASEREVISION) < 0
        || PyModule_AddStringConstant(module, "MODULE_VERSION", MP_VERSION_STRING) < 0)
        return -1;
    return 0;
}

static int apache_traverse(PyObject *module, visitproc visit, void *arg)
{
    mp_module_state *st = PyModule_GetState(module);
    if (st) {
        Py_VISIT(st->request_type);
        Py_VISIT(st->table_type);
        Py_VISIT(st->server_type);
        Py_VISIT(st->conn_type);
        Py_VISIT(st->finfo_type);
        Py_VISIT(st->filter_type);
    }
    return 0;
}

static int apache_clear(PyObject *module)
{
    mp_module_state *st = PyModule_GetState(module);
    if (st) {
        Py_CLEAR(st->request_type);
        Py_CLEAR(st->table_type);
        Py_CLEAR(st->server_type);
        Py_CLEAR(st->conn_type);
        Py_CLEAR(st->finfo_type);
        Py_CLEAR(st->filter_type);
    }
    return 0;
}

static void apache_free(void *module)
{
    apache_clear((PyObject *)module);
}

static PyModuleDef_Slot apache_slots[] = {
    {Py_mod_exec, apache_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL}
};

PyModuleDef mp_apache_moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_apache",
    .m_doc = "Apache internals for mod_python.apache (only importable inside Apache)",
    .m_size = sizeof(mp_module_state),
    .m_methods = apache_functions,
    .m_slots = apache_slots,
    .m_traverse = apache_traverse,
    .m_clear = apache_clear,
    .m_free = apache_free,
};

PyObject *mp_init_apache_module(void)
{
    return PyModuleDef_Init(&mp_apache_moduledef);
}
