/*
 * finfoobject.c -- mp_finfo, file information like POSIX stat (manual 4.5.4
 * ``finfo``, 4.5.1 ``stat``).  A copy of an apr_finfo_t: it can outlive the
 * request it came from and be assigned to req.finfo.
 */
#include "mp_apache.h"

typedef struct {
    PyObject_HEAD
    apr_finfo_t fi;
    PyObject *fname, *name;   /* owned copies of the strings */
} mp_finfo_object;

PyObject *mp_finfo_wrap(mp_module_state *st, const apr_finfo_t *fi)
{
    mp_finfo_object *self = PyObject_New(mp_finfo_object, st->finfo_type);
    if (!self)
        return NULL;
    self->fi = *fi;
    self->fname = mp_path_or_none(fi->fname);
    /* apr_stat fills name only when asked (APR_FINFO_NAME); otherwise it is garbage */
    self->name = mp_path_or_none((fi->valid & APR_FINFO_NAME) ? fi->name : NULL);
    self->fi.fname = self->fi.name = NULL;
    self->fi.pool = NULL;
    self->fi.filehand = NULL;
    if (!self->fname || !self->name) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

int mp_finfo_copy_to(mp_module_state *st, PyObject *o, apr_finfo_t *dest, apr_pool_t *p)
{
    mp_finfo_object *self;
    if (!PyObject_TypeCheck(o, st->finfo_type)) {
        PyErr_Format(PyExc_TypeError, "a finfo object (from apache.stat()) is needed, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    self = (mp_finfo_object *)o;
    *dest = self->fi;
    dest->pool = p;
    dest->fname = self->fname == Py_None ? NULL : mp_path_copy(p, self->fname, "finfo.fname");
    dest->name = self->name == Py_None ? NULL : mp_path_copy(p, self->name, "finfo.name");
    if (PyErr_Occurred())
        return -1;
    return 0;
}

static void finfo_dealloc(mp_finfo_object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(self->fname);
    Py_XDECREF(self->name);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* A field, or None when apr_stat did not fill it (its APR_FINFO_* bit is not in valid). */
#define VALID(bit) ((self->fi.valid & (bit)) == (bit))
#define TIME(t) PyFloat_FromDouble((double)(t) / APR_USEC_PER_SEC)

static PyObject *finfo_field(mp_finfo_object *self, int which)
{
    switch (which) {
    case 0:  /* mode: the protection bits */
        return VALID(APR_FINFO_PROT) ? PyLong_FromLong(self->fi.protection) : Py_NewRef(Py_None);
    case 1:
        return VALID(APR_FINFO_INODE) ? PyLong_FromUnsignedLongLong(self->fi.inode)
                                      : Py_NewRef(Py_None);
    case 2:
        return VALID(APR_FINFO_DEV) ? PyLong_FromUnsignedLongLong(self->fi.device)
                                    : Py_NewRef(Py_None);
    case 3:
        return VALID(APR_FINFO_NLINK) ? PyLong_FromLong(self->fi.nlink) : Py_NewRef(Py_None);
    case 4:
        return VALID(APR_FINFO_USER) ? PyLong_FromLong((long)self->fi.user) : Py_NewRef(Py_None);
    case 5:
        return VALID(APR_FINFO_GROUP) ? PyLong_FromLong((long)self->fi.group)
                                      : Py_NewRef(Py_None);
    case 6:
        return VALID(APR_FINFO_SIZE) ? PyLong_FromLongLong(self->fi.size) : Py_NewRef(Py_None);
    case 7:
        return VALID(APR_FINFO_ATIME) ? TIME(self->fi.atime) : Py_NewRef(Py_None);
    case 8:
        return VALID(APR_FINFO_MTIME) ? TIME(self->fi.mtime) : Py_NewRef(Py_None);
    case 9:
        return VALID(APR_FINFO_CTIME) ? TIME(self->fi.ctime) : Py_NewRef(Py_None);
    case 10:
        return Py_NewRef(self->fname);
    case 11:
        return Py_NewRef(self->name);
    case 12:
        return PyLong_FromLong(self->fi.filetype);
    }
    PyErr_SetString(PyExc_IndexError, "finfo index out of range (use apache.FINFO_*)");
    return NULL;
}

#define FINFO_LEN 13

static Py_ssize_t finfo_length(PyObject *self)
{
    (void)self;
    return FINFO_LEN;
}

static PyObject *finfo_item(mp_finfo_object *self, Py_ssize_t i)
{
    if (i < 0 || i >= FINFO_LEN) {
        PyErr_SetString(PyExc_IndexError, "finfo index out of range (use apache.FINFO_*)");
        return NULL;
    }
    return finfo_field(self, (int)i);
}

static PyObject *finfo_get(mp_finfo_object *self, void *closure)
{
    return finfo_field(self, (int)(apr_uintptr_t)closure);
}

static PyObject *finfo_get_valid(mp_finfo_object *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->fi.valid);
}

static PyObject *finfo_get_csize(mp_finfo_object *self, void *closure)
{
    (void)closure;
    return VALID(APR_FINFO_CSIZE) ? PyLong_FromLongLong(self->fi.csize) : Py_NewRef(Py_None);
}

static PyObject *finfo_repr(mp_finfo_object *self)
{
    return PyUnicode_FromFormat("<finfo %R filetype=%d size=%lld>", self->fname,
                                (int)self->fi.filetype, (long long)self->fi.size);
}

#define FIELD(name, i, doc) {name, (getter)finfo_get, NULL, doc, (void *)(apr_uintptr_t)(i)}

static PyGetSetDef finfo_getset[] = {
    FIELD("protection", 0, "permission bits (apr_fileperms_t), or None"),
    FIELD("inode", 1, "inode number, or None"),
    FIELD("device", 2, "device id, or None"),
    FIELD("nlink", 3, "number of hard links, or None"),
    FIELD("user", 4, "owner uid, or None"),
    FIELD("group", 5, "group gid, or None"),
    FIELD("size", 6, "size in bytes, or None"),
    FIELD("atime", 7, "last access (seconds since the epoch), or None"),
    FIELD("mtime", 8, "last modification (seconds since the epoch), or None"),
    FIELD("ctime", 9, "last status change (seconds since the epoch), or None"),
    FIELD("fname", 10, "the path stat() was given"),
    FIELD("name", 11, "the file's name as stored in its directory, or None"),
    FIELD("filetype", 12, "one of apache.APR_NOFILE, APR_REG, APR_DIR, ..."),
    {"valid", (getter)finfo_get_valid, NULL, "APR_FINFO_* bits of the fields filled in", NULL},
    {"csize", (getter)finfo_get_csize, NULL, "storage size in bytes, or None", NULL},
    {NULL}
};

static PyType_Slot finfo_slots[] = {
    {Py_tp_doc, "file information (apache.stat(), req.finfo); also a tuple indexed by FINFO_*"},
    {Py_tp_dealloc, finfo_dealloc},
    {Py_tp_getset, finfo_getset},
    {Py_tp_repr, finfo_repr},
    {Py_sq_length, finfo_length},
    {Py_sq_item, finfo_item},
    {0, NULL}
};

PyType_Spec mp_finfo_spec = {
    .name = "mod_python.apache.finfo",
    .basicsize = sizeof(mp_finfo_object),
    .flags = Py_TPFLAGS_DEFAULT
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = finfo_slots,
};
