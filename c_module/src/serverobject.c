/*
 * serverobject.c -- mp_server, the Python view of a server_rec (manual 4.5.7).
 * Servers live as long as the child, so the object needs no liveness check.
 */
#include "mp_members.h"
#include "mp_config.h"

typedef struct {
    PyObject_HEAD
    server_rec *s;
} mp_server_object;

PyObject *mp_server_wrap(mp_module_state *st, server_rec *s)
{
    mp_server_object *self = PyObject_New(mp_server_object, st->server_type);
    if (!self)
        return NULL;
    self->s = s;
    return (PyObject *)self;
}

PyObject *mp_server_new(PyObject *c_module, server_rec *s)
{
    mp_module_state *st = mp_state_of(c_module);
    return st ? mp_server_wrap(st, s) : NULL;
}

server_rec *mp_server_rec_of(mp_module_state *st, PyObject *o)
{
    if (!PyObject_TypeCheck(o, st->server_type)) {
        PyErr_Format(PyExc_TypeError, "a server object is needed, not %.100s",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((mp_server_object *)o)->s;
}

static void server_dealloc(mp_server_object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *server_table(mp_server_object *self, apr_table_t *t)
{
    return mp_table_wrap(PyType_GetModuleState(Py_TYPE(self)), t, self->s->process->pconf,
                         NULL, NULL);
}

static PyObject *server_get_config(mp_server_object *self, PyObject *unused)
{
    (void)unused;
    return server_table(self, mp_dir_conf(self->s->lookup_defaults)->directives);
}

static PyObject *server_get_options(mp_server_object *self, PyObject *unused)
{
    (void)unused;
    return server_table(self, mp_dir_conf(self->s->lookup_defaults)->options);
}

static PyObject *server_log_error(mp_server_object *self, PyObject *args)
{
    const char *msg;
    int level = APLOG_ERR;
    if (!PyArg_ParseTuple(args, "s|i:log_error", &msg, &level))
        return NULL;
    ap_log_error(APLOG_MARK, level, 0, self->s, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *server_register_cleanup(mp_server_object *self, PyObject *args)
{
    PyObject *req, *func, *data = Py_None, *apache, *res;
    mp_module_state *st = PyType_GetModuleState(Py_TYPE(self));
    if (!PyArg_ParseTuple(args, "OO|O:register_cleanup", &req, &func, &data))
        return NULL;
    if (!PyObject_TypeCheck(req, st->request_type)) {
        PyErr_SetString(PyExc_TypeError, "register_cleanup(request, callable[, data]): "
                        "the first argument must be the request object");
        return NULL;
    }
    /* The request only tells the interpreter, which is the running one. */
    if (!(apache = PyImport_ImportModule("mod_python.apache")))
        return NULL;
    res = PyObject_CallMethod(apache, "register_cleanup", "OO", func, data);
    Py_DECREF(apache);
    return res;
}

static PyObject *server_get_names(mp_server_object *self, void *closure)
{
    (void)closure;
    return mp_str_array_tuple(self->s->names);
}

static PyObject *server_get_wild_names(mp_server_object *self, void *closure)
{
    (void)closure;
    return mp_str_array_tuple(self->s->wild_names);
}

static PyMethodDef server_methods[] = {
    {"register_cleanup", (PyCFunction)server_register_cleanup, METH_VARARGS,
     "register_cleanup(request, callable[, data]): call it when this child exits"},
    {"get_config", (PyCFunction)server_get_config, METH_NOARGS,
     "the server-level mod_python directives, as a table"},
    {"get_options", (PyCFunction)server_get_options, METH_NOARGS,
     "the server-level PythonOption values, as a table"},
    {"log_error", (PyCFunction)server_log_error, METH_VARARGS,
     "log_error(message[, level]) to this server's error log"},
    {NULL}
};

static PyObject *server_get_member(mp_server_object *self, void *closure)
{
    return mp_member_get(self->s, closure);
}

static PyObject *server_get_port(mp_server_object *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->s->port);
}

static PyObject *server_get_loglevel(mp_server_object *self, void *closure)
{
    (void)closure;
#if MP_HTTPD_24
    return PyLong_FromLong(self->s->log.level);
#else
    return PyLong_FromLong(self->s->loglevel);
#endif
}

static PyObject *server_get_is_virtual(mp_server_object *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->s->is_virtual);  /* int in 2.2, char in 2.4 */
}

static PyObject *server_get_defn_line_number(mp_server_object *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(self->s->defn_line_number);
}

#define RO(name, type, field, doc) \
    MP_MEMBER_RO(server_rec, name, type, field, server_get_member, doc)

static PyGetSetDef server_getset[] = {
    RO("defn_name", MP_M_PATH, defn_name, "the config file the server was defined in"),
    RO("server_admin", MP_M_STR, server_admin, "ServerAdmin"),
    RO("server_hostname", MP_M_STR, server_hostname, "ServerName"),
    RO("error_fname", MP_M_PATH, error_fname, "the ErrorLog file name"),
    RO("timeout", MP_M_INTERVAL, timeout, "Timeout, in seconds"),
    RO("keep_alive_timeout", MP_M_INTERVAL, keep_alive_timeout, "KeepAliveTimeout, seconds"),
    RO("keep_alive_max", MP_M_INT, keep_alive_max, "MaxKeepAliveRequests"),
    RO("keep_alive", MP_M_BOOL, keep_alive, "KeepAlive"),
    RO("path", MP_M_STR, path, "the pathname for ServerPath"),
    RO("pathlen", MP_M_INT, pathlen, "the length of path"),
    RO("limit_req_line", MP_M_INT, limit_req_line, "LimitRequestLine"),
    RO("limit_req_fieldsize", MP_M_INT, limit_req_fieldsize, "LimitRequestFieldSize"),
    RO("limit_req_fields", MP_M_INT, limit_req_fields, "LimitRequestFields"),
    {"port", (getter)server_get_port, NULL, "the port of ServerName", NULL},
    {"names", (getter)server_get_names, NULL, "ServerAlias names without wildcards", NULL},
    {"wild_names", (getter)server_get_wild_names, NULL, "ServerAlias names with wildcards",
     NULL},
    {"loglevel", (getter)server_get_loglevel, NULL, "LogLevel, one of apache.APLOG_*", NULL},
    {"is_virtual", (getter)server_get_is_virtual, NULL, "True for a virtual host", NULL},
    {"defn_line_number", (getter)server_get_defn_line_number, NULL,
     "the line of the config file the server was defined at", NULL},
    {NULL}
};

static PyType_Slot server_slots[] = {
    {Py_tp_doc, "the server object (manual 4.5.7)"},
    {Py_tp_dealloc, server_dealloc},
    {Py_tp_methods, server_methods},
    {Py_tp_getset, server_getset},
    {0, NULL}
};

PyType_Spec mp_server_spec = {
    .name = "mod_python.apache.server",
    .basicsize = sizeof(mp_server_object),
    .flags = Py_TPFLAGS_DEFAULT
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = server_slots,
};
