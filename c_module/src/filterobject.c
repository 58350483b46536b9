/*
 * filterobject.c -- mp_filter, the object a Python filter handler receives
 * (manual 4.5.6).
 *
 * One object per filter instance of a request, reused for every call of
 * that filter; it can be used only while its handler runs.  read() and
 * readline() take buckets from the data of the running call, write() adds
 * heap buckets for the next filter (output) or for the reader above
 * (input).  Text is bytes: read() returns bytes, or None at the end of the
 * stream; write() takes bytes-like objects, and str as UTF-8.
 */
#include "mp_filter.h"

/* read() without a length stops after this much, at a bucket boundary. */
#define MP_READ_ALL_MAX (1024 * 1024)
/* Output written is passed on to the next filter once this much is waiting. */
#define MP_PASS_AT (64 * 1024)
/* What an input filter fetches at once when neither it nor the reader says. */
#define MP_FETCH_DEFAULT 8192

typedef struct {
    PyObject_HEAD
    mp_filter_ctx *ctx;         /* NULL once the request is over */
    PyObject *dict;
    PyObject *req, *name, *handler;
    int is_input;
    int closed;                 /* ctx->closed, kept when ctx goes */
} mp_filter_object;

PyObject *mp_filter_object_new(PyObject *c_module, mp_filter_ctx *ctx, PyObject *req)
{
    mp_module_state *st = mp_state_of(c_module);
    mp_filter_object *self;
    if (!st)
        return NULL;
    self = PyObject_GC_New(mp_filter_object, st->filter_type);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->dict = NULL;
    self->req = Py_NewRef(req);
    self->name = mp_str_or_none(ctx->def->name);
    self->handler = ctx->def->callable ? Py_NewRef(ctx->def->callable)
                                       : mp_path_or_none(ctx->def->handler);
    self->is_input = ctx->def->is_input;
    self->closed = 0;
    PyObject_GC_Track(self);
    if (!self->name || !self->handler) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

void mp_filter_object_invalidate(PyObject *obj)
{
    mp_filter_object *self = (mp_filter_object *)obj;
    if (!self || !self->ctx)
        return;
    self->closed = self->ctx->closed;
    self->ctx = NULL;
}

static int filter_traverse(mp_filter_object *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->dict);
    Py_VISIT(self->req);
    Py_VISIT(self->handler);
    return 0;
}

static int filter_clear(mp_filter_object *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->req);
    Py_CLEAR(self->name);
    Py_CLEAR(self->handler);
    return 0;
}

static void filter_dealloc(mp_filter_object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    filter_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* The running call's state, or NULL with an exception: io=1 also refuses a closed filter. */
static mp_filter_ctx *usable(mp_filter_object *self, int io)
{
    mp_filter_ctx *ctx = self->ctx;
    if (!ctx) {
        PyErr_SetString(PyExc_RuntimeError, "this filter's request has finished");
        return NULL;
    }
    if (!ctx->in_call) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a filter object can only be used while its filter handler runs");
        return NULL;
    }
    if (ctx->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this filter is busy in another thread");
        return NULL;
    }
    if (io && ctx->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed filter");
        return NULL;
    }
    return ctx;
}

static PyObject *apr_error(const char *what, apr_status_t rv)
{
    char buf[120];
    if (rv == AP_FILTER_ERROR)
        return PyErr_Format(PyExc_OSError, "%s: a later filter has already failed the request",
                            what);
    return PyErr_Format(PyExc_OSError, "%s: %s", what, apr_strerror(rv, buf, sizeof(buf)));
}

/* Pass what was written on; OSError if the next filter (or the client) fails. */
static int pass_down(mp_filter_ctx *ctx)
{
    apr_status_t rv = mp_filter_pass_down(ctx);
    if (rv != APR_SUCCESS) {
        apr_error("passing data to the next filter failed (has the client gone?)", rv);
        return -1;
    }
    return 0;
}

/* Buckets in memory are read at once; the others (files, pipes) may block. */
static apr_status_t read_bucket(mp_filter_ctx *ctx, apr_bucket *b, const char **data,
                                apr_size_t *len)
{
    apr_status_t rv;
    if (APR_BUCKET_IS_HEAP(b) || APR_BUCKET_IS_TRANSIENT(b) || APR_BUCKET_IS_IMMORTAL(b)
        || APR_BUCKET_IS_POOL(b))
        return apr_bucket_read(b, data, len, APR_BLOCK_READ);
    ctx->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rv = apr_bucket_read(b, data, len, APR_BLOCK_READ);
    Py_END_ALLOW_THREADS
    ctx->busy = 0;
    return rv;
}

/* Input: fetch from the next filter once per call, when nothing is left to read. */
static int fetch(mp_filter_ctx *ctx, Py_ssize_t limit)
{
    apr_off_t n;
    apr_status_t rv;
    if (!APR_BRIGADE_EMPTY(ctx->bb_in) || ctx->fetched || ctx->eos_in)
        return 0;
    ctx->fetched = 1;
    if (ctx->up_rv != APR_SUCCESS) {
        apr_error("reading the request body failed", ctx->up_rv);
        return -1;
    }
    if (limit > 0)
        n = (apr_off_t)limit;
    else if (ctx->mode == AP_MODE_READBYTES && ctx->readbytes > 0)
        n = ctx->readbytes;
    else
        n = MP_FETCH_DEFAULT;
    ctx->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rv = ap_get_brigade(ctx->f->next, ctx->bb_in, AP_MODE_READBYTES, ctx->block, n);
    Py_END_ALLOW_THREADS
    ctx->busy = 0;
    if (APR_STATUS_IS_EAGAIN(rv)) {
        ctx->eagain = 1;
        return 0;
    }
    if (rv != APR_SUCCESS) {
        ctx->up_rv = rv;
        apr_error("reading the request body failed", rv);
        return -1;
    }
    return 0;
}

typedef struct {
    char *buf;
    apr_size_t len, cap;
} mp_acc;

static int acc_add(mp_acc *a, const char *data, apr_size_t n)
{
    if (a->len + n > a->cap) {
        apr_size_t cap = a->cap ? a->cap : 8192;
        char *nb;
        while (cap < a->len + n)
            cap *= 2;
        nb = PyMem_Realloc(a->buf, cap);
        if (!nb) {
            PyErr_NoMemory();
            return -1;
        }
        a->buf = nb;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, data, n);
    a->len += n;
    return 0;
}

/*
 * A metadata bucket met while reading.  Output: it goes on to the next
 * filter in order with what was written before it (a FLUSH at once).
 * Input: readers above take only data and EOS, so it is dropped.
 */
static int metadata(mp_filter_ctx *ctx, apr_bucket *b)
{
    if (ctx->def->is_input) {
        apr_bucket_delete(b);
        return 0;
    }
    APR_BUCKET_REMOVE(b);
    APR_BRIGADE_INSERT_TAIL(ctx->bb_out, b);
    return APR_BUCKET_IS_FLUSH(b) ? pass_down(ctx) : 0;
}

/*
 * Take up to `max` bytes from the data of this call (through the first
 * newline when `line`).  b"" when the call's data is used up, None at the
 * end of the stream.
 */
static PyObject *take(mp_filter_ctx *ctx, apr_size_t max, Py_ssize_t fetch_hint, int line)
{
    apr_bucket_brigade *bb = ctx->bb_in;
    mp_acc a = {NULL, 0, 0};
    PyObject *res;

    if (ctx->eos_in)
        Py_RETURN_NONE;
    if (ctx->def->is_input && fetch(ctx, fetch_hint) < 0)
        return NULL;
    while (!APR_BRIGADE_EMPTY(bb) && a.len < max) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        const char *data, *nl = NULL;
        apr_size_t len, n;
        apr_status_t rv;

        if (APR_BUCKET_IS_EOS(b)) {
            if (a.len)
                break;          /* the data first, None next time */
            ctx->eos_in = 1;
            apr_bucket_delete(b);
            PyMem_Free(a.buf);
            Py_RETURN_NONE;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            if (a.len)
                break;
            if (metadata(ctx, b) < 0)
                goto error;
            continue;
        }
        rv = read_bucket(ctx, b, &data, &len);
        if (rv != APR_SUCCESS) {
            apr_error("reading data in the filter failed", rv);
            goto error;
        }
        n = len < max - a.len ? len : max - a.len;
        if (line && (nl = memchr(data, '\n', n)) != NULL)
            n = (apr_size_t)(nl - data) + 1;
        if (n && acc_add(&a, data, n) < 0)
            goto error;
        if (n < len && (rv = apr_bucket_split(b, n)) != APR_SUCCESS) {
            apr_error("splitting a bucket failed", rv);
            goto error;
        }
        apr_bucket_delete(b);
        if (nl)
            break;
    }
    res = PyBytes_FromStringAndSize(a.buf ? a.buf : "", (Py_ssize_t)a.len);
    PyMem_Free(a.buf);
    return res;
error:
    PyMem_Free(a.buf);
    return NULL;
}

static PyObject *filter_read(mp_filter_object *self, PyObject *args)
{
    Py_ssize_t len = -1;
    mp_filter_ctx *ctx;
    if (!PyArg_ParseTuple(args, "|n:read", &len) || !(ctx = usable(self, 1)))
        return NULL;
    if (len == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    return take(ctx, len > 0 ? (apr_size_t)len : MP_READ_ALL_MAX, len, 0);
}

static PyObject *filter_readline(mp_filter_object *self, PyObject *args)
{
    Py_ssize_t len = -1;
    mp_filter_ctx *ctx;
    if (!PyArg_ParseTuple(args, "|n:readline", &len) || !(ctx = usable(self, 1)))
        return NULL;
    if (len == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    return take(ctx, len > 0 ? (apr_size_t)len : (apr_size_t)-1, len, 1);
}

static PyObject *filter_write(mp_filter_object *self, PyObject *data)
{
    mp_filter_ctx *ctx;
    Py_buffer view;
    const char *buf;
    Py_ssize_t len;

    if (!(ctx = usable(self, 1)))
        return NULL;
    view.obj = NULL;
    if (PyUnicode_Check(data)) {
        if (!(buf = PyUnicode_AsUTF8AndSize(data, &len)))
            return NULL;
    }
    else {
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
            PyErr_Format(PyExc_TypeError, "write() takes str or a bytes-like object, not %.100s",
                         Py_TYPE(data)->tp_name);
            return NULL;
        }
        buf = view.buf;
        len = view.len;
    }
    if (len > 0) {
        /* a heap bucket copies the data: the Python object may go away */
        apr_bucket *b = apr_bucket_heap_create(buf, (apr_size_t)len, NULL,
                                               ctx->f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, b);
        ctx->out_bytes += (apr_size_t)len;
    }
    if (view.obj)
        PyBuffer_Release(&view);
    if (!ctx->def->is_input && ctx->out_bytes >= MP_PASS_AT && pass_down(ctx) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *filter_flush(mp_filter_object *self, PyObject *unused)
{
    mp_filter_ctx *ctx;
    (void)unused;
    if (!(ctx = usable(self, 1)))
        return NULL;
    /* an input filter's data goes up when its call returns: nothing to do */
    if (!ctx->def->is_input) {
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, apr_bucket_flush_create(ctx->f->c->bucket_alloc));
        if (pass_down(ctx) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *filter_close(mp_filter_object *self, PyObject *unused)
{
    mp_filter_ctx *ctx;
    (void)unused;
    if (!(ctx = usable(self, 0)))
        return NULL;
    if (ctx->closed)
        Py_RETURN_NONE;
    ctx->closed = 1;
    APR_BRIGADE_INSERT_TAIL(ctx->bb_out, apr_bucket_eos_create(ctx->f->c->bucket_alloc));
    if (!ctx->def->is_input && pass_down(ctx) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Everything of this call not read yet goes on unchanged (the end of stream too). */
static PyObject *filter_pass_on(mp_filter_object *self, PyObject *unused)
{
    mp_filter_ctx *ctx;
    (void)unused;
    if (!(ctx = usable(self, 1)))
        return NULL;
    if (ctx->def->is_input && fetch(ctx, -1) < 0)
        return NULL;
    while (!APR_BRIGADE_EMPTY(ctx->bb_in)) {
        apr_bucket *b = APR_BRIGADE_FIRST(ctx->bb_in);
        APR_BUCKET_REMOVE(b);
        if (ctx->def->is_input) {
            if (APR_BUCKET_IS_METADATA(b) && !APR_BUCKET_IS_EOS(b)) {
                apr_bucket_destroy(b);
                continue;
            }
            /* it waits for the reader beyond this call */
            (void)apr_bucket_setaside(b, ctx->r->pool);
        }
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, b);
        if (APR_BUCKET_IS_EOS(b)) {
            ctx->eos_in = ctx->closed = 1;
            apr_brigade_cleanup(ctx->bb_in);
        }
    }
    if (ctx->eos_in && !ctx->closed) {
        /* read() saw the end already: pass it on, as close() would */
        ctx->closed = 1;
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, apr_bucket_eos_create(ctx->f->c->bucket_alloc));
    }
    if (!ctx->def->is_input && pass_down(ctx) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *filter_disable(mp_filter_object *self, PyObject *unused)
{
    mp_filter_ctx *ctx;
    (void)unused;
    if (!(ctx = usable(self, 0)))
        return NULL;
    ctx->disabled = 1;
    Py_RETURN_NONE;
}

static PyMethodDef filter_methods[] = {
    {"pass_on", (PyCFunction)filter_pass_on, METH_NOARGS,
     "pass what this call has not read yet on unchanged"},
    {"read", (PyCFunction)filter_read, METH_VARARGS,
     "read([length]) -> bytes of this call's data; b'' when used up, None at the end"},
    {"readline", (PyCFunction)filter_readline, METH_VARARGS,
     "readline([length]) -> bytes up to and including a newline; None at the end"},
    {"write", (PyCFunction)filter_write, METH_O,
     "write(data): str (as UTF-8) or bytes for the next filter"},
    {"flush", (PyCFunction)filter_flush, METH_NOARGS,
     "send what was written on now, with a FLUSH bucket"},
    {"close", (PyCFunction)filter_close, METH_NOARGS,
     "end the stream (an EOS bucket); no I/O is possible afterwards"},
    {"disable", (PyCFunction)filter_disable, METH_NOARGS,
     "let the data of later calls pass without calling the handler"},
    {NULL}
};

static PyObject *filter_get_closed(mp_filter_object *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->ctx ? self->ctx->closed : self->closed);
}

static PyObject *filter_get_is_input(mp_filter_object *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->is_input);
}

static PyObject *filter_get_disabled(mp_filter_object *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->ctx && self->ctx->disabled);
}

#define FILTER_OBJ_GETTER(attr)                                               \
    static PyObject *filter_get_##attr(mp_filter_object *self, void *closure) \
    {                                                                         \
        (void)closure;                                                        \
        return Py_NewRef(self->attr);                                         \
    }
FILTER_OBJ_GETTER(req)
FILTER_OBJ_GETTER(name)
FILTER_OBJ_GETTER(handler)

static PyGetSetDef filter_getset[] = {
    {"closed", (getter)filter_get_closed, NULL, "True once the filter is closed", NULL},
    {"name", (getter)filter_get_name, NULL, "the name the filter is registered under", NULL},
    {"req", (getter)filter_get_req, NULL, "the request object", NULL},
    {"is_input", (getter)filter_get_is_input, NULL, "True for an input filter", NULL},
    {"handler", (getter)filter_get_handler, NULL,
     "the handler as configured, 'module[::callable]', or the callable registered", NULL},
    {"disabled", (getter)filter_get_disabled, NULL, "True once disable() was called", NULL},
    {NULL}
};

static PyMemberDef filter_members[] = {
    {"__dictoffset__", MP_T_PYSSIZET, offsetof(mp_filter_object, dict), MP_READONLY, NULL},
    {NULL}
};

static PyObject *filter_repr(mp_filter_object *self)
{
    return PyUnicode_FromFormat("<mod_python %s filter %R (%R)>",
                                self->is_input ? "input" : "output", self->name, self->handler);
}

static PyType_Slot filter_slots[] = {
    {Py_tp_doc, "the filter object a filter handler receives (manual 4.5.6)"},
    {Py_tp_dealloc, filter_dealloc},
    {Py_tp_traverse, filter_traverse},
    {Py_tp_clear, filter_clear},
    {Py_tp_repr, filter_repr},
    {Py_tp_methods, filter_methods},
    {Py_tp_getset, filter_getset},
    {Py_tp_members, filter_members},
    {0, NULL}
};

PyType_Spec mp_filter_spec = {
    .name = "mod_python.apache.filter",
    .basicsize = sizeof(mp_filter_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = filter_slots,
};
