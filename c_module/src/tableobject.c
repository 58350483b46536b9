/*
 * tableobject.c -- mp_table: a mapping over an Apache apr_table_t
 * (manual 4.5.3).  Keys are case-insensitive, a key may hold several values
 * (add()), and a subscript returns a list when it does.
 */
#include "mp_apache.h"

typedef struct {
    PyObject_HEAD
    apr_table_t *table;
    apr_pool_t *pool;        /* where set keys and values are copied */
    apr_pool_t *own_pool;    /* the pool of a standalone table, destroyed with it */
    PyObject *owner;         /* keeps what holds the table alive */
    mp_alive_t alive;        /* NULL for standalone tables */
} mp_table_object;

static int table_usable(mp_table_object *self)
{
    if (self->alive && !*self->alive) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this table belonged to a request or connection that has finished");
        return 0;
    }
    return 1;
}

static const char *table_key(mp_table_object *self, PyObject *key)
{
    const char *k = mp_latin1_copy(self->pool, key, "table key");
    if (k && (!*k || strpbrk(k, "\r\n"))) {
        PyErr_Format(PyExc_ValueError, "table key %R must be non-empty and on one line", key);
        return NULL;
    }
    return k;
}

static const char *table_value(mp_table_object *self, PyObject *val)
{
    const char *v = mp_latin1_copy(self->pool, val, "table value");
    if (v && strpbrk(v, "\r\n")) {
        PyErr_Format(PyExc_ValueError,
                     "table value %R contains a CR or LF: it would break the header block",
                     val);
        return NULL;
    }
    return v;
}

/*
 * The ISO-8859-1 bytes of a key to look up, as a new bytes object: lookups
 * must not copy into the pool, or a loop of reads would grow a request's
 * memory without bound.
 */
static PyObject *lookup_key(PyObject *key)
{
    PyObject *b;
    if (!PyUnicode_Check(key)) {
        PyErr_Format(PyExc_TypeError, "table key must be str, not %.100s", Py_TYPE(key)->tp_name);
        return NULL;
    }
    b = PyUnicode_AsEncodedString(key, "latin-1", "strict");
    if (!b) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "table key %R cannot be encoded as ISO-8859-1", key);
        return NULL;
    }
    if (memchr(PyBytes_AS_STRING(b), '\0', (size_t)PyBytes_GET_SIZE(b))) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_ValueError, "table key must not contain a NUL character");
        return NULL;
    }
    return b;
}

PyObject *mp_table_wrap(mp_module_state *st, apr_table_t *t, apr_pool_t *pool,
                        PyObject *owner, mp_alive_t alive)
{
    mp_table_object *self = PyObject_GC_New(mp_table_object, st->table_type);
    if (!self)
        return NULL;
    self->table = t;
    self->pool = pool;
    self->own_pool = NULL;
    self->owner = owner;
    Py_XINCREF(owner);
    self->alive = alive;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static mp_table_object *table_alloc_standalone(PyTypeObject *type)
{
    mp_table_object *self = (mp_table_object *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    if (apr_pool_create(&self->own_pool, NULL) != APR_SUCCESS) {
        Py_DECREF(self);
        return (mp_table_object *)PyErr_NoMemory();
    }
    self->pool = self->own_pool;
    self->table = apr_table_make(self->pool, 8);
    return self;
}

PyObject *mp_table_new_standalone(mp_module_state *st)
{
    return (PyObject *)table_alloc_standalone(st->table_type);
}

static PyObject *table_update(mp_table_object *self, PyObject *args, PyObject *kw);

static PyObject *table_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    mp_table_object *self = table_alloc_standalone(type);
    PyObject *res;
    if (!self)
        return NULL;
    res = table_update(self, args, kw);
    if (!res) {
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(res);
    return (PyObject *)self;
}

static int table_traverse(mp_table_object *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->owner);
    return 0;
}

static int table_clear_refs(mp_table_object *self)
{
    Py_CLEAR(self->owner);
    return 0;
}

static void table_dealloc(mp_table_object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    table_clear_refs(self);
    if (self->own_pool)
        apr_pool_destroy(self->own_pool);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static Py_ssize_t table_length(mp_table_object *self)
{
    if (!table_usable(self))
        return -1;
    return apr_table_elts(self->table)->nelts;
}

/* The values of `key`: NULL with no error when absent, a str, or a list. */
static PyObject *table_lookup(mp_table_object *self, PyObject *key)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    const char *k;
    PyObject *kb, *first = NULL, *list = NULL;
    int i;

    if (!table_usable(self) || !(kb = lookup_key(key)))
        return NULL;
    k = PyBytes_AS_STRING(kb);
    arr = apr_table_elts(self->table);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        PyObject *v;
        if (!e[i].key || strcasecmp(e[i].key, k) != 0)
            continue;
        v = mp_str_or_none(e[i].val);
        if (!v)
            goto fail;
        if (!first) {
            first = v;
            continue;
        }
        if (!list) {
            list = PyList_New(1);
            if (!list) {
                Py_DECREF(v);
                goto fail;
            }
            PyList_SET_ITEM(list, 0, first);
            first = NULL;
        }
        if (PyList_Append(list, v) < 0) {
            Py_DECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
    Py_DECREF(kb);
    return list ? list : first;
fail:
    Py_DECREF(kb);
    Py_XDECREF(first);
    Py_XDECREF(list);
    return NULL;
}

static PyObject *table_subscript(mp_table_object *self, PyObject *key)
{
    PyObject *v = table_lookup(self, key);
    if (!v && !PyErr_Occurred())
        PyErr_SetObject(PyExc_KeyError, key);
    return v;
}

static int table_ass_subscript(mp_table_object *self, PyObject *key, PyObject *val)
{
    const char *k, *v;
    if (!table_usable(self))
        return -1;
    if (!val) {
        PyObject *kb = lookup_key(key);
        int found;
        if (!kb)
            return -1;
        found = apr_table_get(self->table, PyBytes_AS_STRING(kb)) != NULL;
        if (found)
            apr_table_unset(self->table, PyBytes_AS_STRING(kb));
        Py_DECREF(kb);
        if (!found) {
            PyErr_SetObject(PyExc_KeyError, key);
            return -1;
        }
        return 0;
    }
    if (!(k = table_key(self, key)) || !(v = table_value(self, val)))
        return -1;
    apr_table_setn(self->table, k, v);
    return 0;
}

static int table_contains(mp_table_object *self, PyObject *key)
{
    PyObject *kb;
    int found;
    if (!table_usable(self))
        return -1;
    if (!PyUnicode_Check(key) || !(kb = lookup_key(key))) {
        PyErr_Clear();
        return 0;
    }
    found = apr_table_get(self->table, PyBytes_AS_STRING(kb)) != NULL;
    Py_DECREF(kb);
    return found;
}

/* A list of keys (which = 0), values (1) or (key, value) pairs (2), in Apache's order. */
static PyObject *table_list(mp_table_object *self, int which)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    PyObject *list;
    int i;

    if (!table_usable(self))
        return NULL;
    arr = apr_table_elts(self->table);
    e = (const apr_table_entry_t *)arr->elts;
    list = PyList_New(0);
    for (i = 0; list && i < arr->nelts; i++) {
        PyObject *item;
        if (!e[i].key)
            continue;
        if (which == 0)
            item = mp_str_or_none(e[i].key);
        else if (which == 1)
            item = mp_str_or_none(e[i].val);
        else
            item = Py_BuildValue("(NN)", mp_str_or_none(e[i].key), mp_str_or_none(e[i].val));
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

static PyObject *table_keys(mp_table_object *self, PyObject *unused)
{
    (void)unused;
    return table_list(self, 0);
}

static PyObject *table_values(mp_table_object *self, PyObject *unused)
{
    (void)unused;
    return table_list(self, 1);
}

static PyObject *table_items(mp_table_object *self, PyObject *unused)
{
    (void)unused;
    return table_list(self, 2);
}

static PyObject *table_iter(mp_table_object *self)
{
    PyObject *keys = table_list(self, 0), *it;
    if (!keys)
        return NULL;
    it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *table_get(mp_table_object *self, PyObject *args)
{
    PyObject *key, *dflt = Py_None, *v;
    if (!PyArg_ParseTuple(args, "O|O:get", &key, &dflt))
        return NULL;
    v = table_lookup(self, key);
    if (!v && !PyErr_Occurred()) {
        Py_INCREF(dflt);
        return dflt;
    }
    return v;
}

static PyObject *table_add(mp_table_object *self, PyObject *args)
{
    PyObject *key, *val;
    const char *k, *v;
    if (!PyArg_ParseTuple(args, "OO:add", &key, &val))
        return NULL;
    if (!table_usable(self) || !(k = table_key(self, key)) || !(v = table_value(self, val)))
        return NULL;
    apr_table_addn(self->table, k, v);
    Py_RETURN_NONE;
}

static PyObject *table_copy(mp_table_object *self, PyObject *unused)
{
    mp_table_object *copy;
    (void)unused;
    if (!table_usable(self))
        return NULL;
    copy = table_alloc_standalone(Py_TYPE(self));
    if (!copy)
        return NULL;
    copy->table = apr_table_copy(copy->pool, self->table);
    /* apr_table_copy shares the strings; give the copy its own. */
    {
        const apr_array_header_t *arr = apr_table_elts(copy->table);
        apr_table_entry_t *e = (apr_table_entry_t *)arr->elts;
        int i;
        for (i = 0; i < arr->nelts; i++) {
            e[i].key = apr_pstrdup(copy->pool, e[i].key);
            e[i].val = e[i].val ? apr_pstrdup(copy->pool, e[i].val) : NULL;
        }
    }
    return (PyObject *)copy;
}

static PyObject *table_clear(mp_table_object *self, PyObject *unused)
{
    (void)unused;
    if (!table_usable(self))
        return NULL;
    apr_table_clear(self->table);
    Py_RETURN_NONE;
}

static int table_set_pairs(mp_table_object *self, PyObject *pairs)
{
    PyObject *it = PyObject_GetIter(pairs), *item;
    if (!it)
        return -1;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *k, *v;
        int rc;
        if (!PyArg_ParseTuple(item, "OO", &k, &v)) {
            PyErr_Format(PyExc_TypeError, "table() needs a mapping or (key, value) pairs");
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        rc = table_ass_subscript(self, k, v);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *table_update(mp_table_object *self, PyObject *args, PyObject *kw)
{
    PyObject *other = NULL;
    if (!PyArg_ParseTuple(args, "|O:update", &other))
        return NULL;
    if (other) {
        PyObject *pairs;
        int rc;
        if (PyObject_HasAttrString(other, "items"))
            pairs = PyObject_CallMethod(other, "items", NULL);
        else {
            pairs = other;
            Py_INCREF(pairs);
        }
        if (!pairs)
            return NULL;
        rc = table_set_pairs(self, pairs);
        Py_DECREF(pairs);
        if (rc < 0)
            return NULL;
    }
    if (kw && PyDict_Size(kw) > 0) {
        PyObject *pairs = PyDict_Items(kw);
        int rc = pairs ? table_set_pairs(self, pairs) : -1;
        Py_XDECREF(pairs);
        if (rc < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *table_setdefault(mp_table_object *self, PyObject *args)
{
    PyObject *key, *dflt = NULL, *v;
    if (!PyArg_ParseTuple(args, "O|O:setdefault", &key, &dflt))
        return NULL;
    v = table_lookup(self, key);
    if (v || PyErr_Occurred())
        return v;
    if (!dflt)
        dflt = PyUnicode_FromString("");
    else
        Py_INCREF(dflt);
    if (!dflt || table_ass_subscript(self, key, dflt) < 0) {
        Py_XDECREF(dflt);
        return NULL;
    }
    return dflt;
}

static PyObject *table_pop(mp_table_object *self, PyObject *args)
{
    PyObject *key, *dflt = NULL, *v;
    if (!PyArg_ParseTuple(args, "O|O:pop", &key, &dflt))
        return NULL;
    v = table_lookup(self, key);
    if (!v) {
        if (PyErr_Occurred())
            return NULL;
        if (dflt) {
            Py_INCREF(dflt);
            return dflt;
        }
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    if (table_ass_subscript(self, key, NULL) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

static PyObject *table_repr(mp_table_object *self)
{
    PyObject *items = table_list(self, 2), *dict, *res;
    Py_ssize_t i;
    if (!items)
        return NULL;
    /* Shown like a dict; repeated keys show as a list of their values. */
    dict = PyDict_New();
    for (i = 0; dict && i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        PyObject *k = PyTuple_GET_ITEM(pair, 0), *v;
        v = table_lookup(self, k);
        if (!v || PyDict_SetItem(dict, k, v) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(v);
    }
    Py_DECREF(items);
    if (!dict)
        return NULL;
    res = PyUnicode_FromFormat("table(%R)", dict);
    Py_DECREF(dict);
    return res;
}

static PyMethodDef table_methods[] = {
    {"keys", (PyCFunction)table_keys, METH_NOARGS, "the keys, a repeated key once per value"},
    {"values", (PyCFunction)table_values, METH_NOARGS, "the values in Apache's order"},
    {"items", (PyCFunction)table_items, METH_NOARGS, "(key, value) pairs in Apache's order"},
    {"get", (PyCFunction)table_get, METH_VARARGS, "get(key[, default])"},
    {"add", (PyCFunction)table_add, METH_VARARGS, "add(key, value): add a value, keeping others"},
    {"copy", (PyCFunction)table_copy, METH_NOARGS, "a standalone copy"},
    {"clear", (PyCFunction)table_clear, METH_NOARGS, "remove every entry"},
    {"update", (PyCFunction)(void (*)(void))table_update, METH_VARARGS | METH_KEYWORDS,
     "update([mapping-or-pairs], **kw): set each key"},
    {"setdefault", (PyCFunction)table_setdefault, METH_VARARGS, "setdefault(key[, default])"},
    {"pop", (PyCFunction)table_pop, METH_VARARGS, "pop(key[, default])"},
    {NULL}
};

static PyType_Slot table_slots[] = {
    {Py_tp_doc, "table([mapping-or-sequence]): a case-insensitive, multi-valued Apache table"},
    {Py_tp_new, table_tp_new},
    {Py_tp_dealloc, table_dealloc},
    {Py_tp_traverse, table_traverse},
    {Py_tp_clear, table_clear_refs},
    {Py_tp_iter, table_iter},
    {Py_tp_repr, table_repr},
    {Py_tp_methods, table_methods},
    {Py_mp_length, table_length},
    {Py_mp_subscript, table_subscript},
    {Py_mp_ass_subscript, table_ass_subscript},
    {Py_sq_contains, table_contains},
    {0, NULL}
};

PyType_Spec mp_table_spec = {
    .name = "mod_python.apache.table",
    .basicsize = sizeof(mp_table_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = table_slots,
};
