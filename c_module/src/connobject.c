/*
 * connobject.c -- mp_conn, the Python view of a conn_rec (manual 4.5.5).
 */
#include "mp_members.h"
#include "mp_connection.h"

typedef struct {
    PyObject_HEAD
    conn_rec *c;
    PyObject *owner;
    mp_alive_t alive;
    PyObject *base_server, *notes;
    int handler;                /* made for a PythonConnectionHandler (owner is NULL) */
    int busy;                   /* a read or write is under way, GIL released */
    int eof;                    /* the client closed its end */
    apr_bucket_brigade *bb;     /* reused by read/readline/write, lives in c->pool */
    char *rbuf;                 /* bytes read ahead by readline() */
    apr_size_t rbuf_len, rbuf_pos, rbuf_cap;
} mp_conn_object;

static int conn_usable(mp_conn_object *self)
{
    if (!self->c) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this connection has ended: a connection object can only be used "
                        "while its connection handler runs");
        return 0;
    }
    if (self->alive && !*self->alive) {
        PyErr_SetString(PyExc_RuntimeError, "this connection's request has finished");
        return 0;
    }
    return 1;
}

PyObject *mp_conn_wrap(mp_module_state *st, conn_rec *c, PyObject *owner, mp_alive_t alive)
{
    mp_conn_object *self = PyObject_GC_New(mp_conn_object, st->conn_type);
    if (!self)
        return NULL;
    self->c = c;
    self->owner = owner;
    Py_XINCREF(owner);
    /* A connection handler's object lives until mp_conn_invalidate() clears self->c. */
    self->alive = alive ? alive : (mp_alive_t)&self->c;
    self->base_server = self->notes = NULL;
    self->handler = owner == NULL;
    self->busy = self->eof = 0;
    self->bb = NULL;
    self->rbuf = NULL;
    self->rbuf_len = self->rbuf_pos = self->rbuf_cap = 0;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int conn_traverse(mp_conn_object *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->owner);
    Py_VISIT(self->base_server);
    Py_VISIT(self->notes);
    return 0;
}

static int conn_clear(mp_conn_object *self)
{
    Py_CLEAR(self->owner);
    Py_CLEAR(self->base_server);
    Py_CLEAR(self->notes);
    return 0;
}

static void conn_dealloc(mp_conn_object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    conn_clear(self);
    free(self->rbuf);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *conn_get_member(mp_conn_object *self, void *closure)
{
    if (!conn_usable(self))
        return NULL;
    return mp_member_get(self->c, closure);
}

static PyObject *sockaddr_tuple(apr_sockaddr_t *sa)
{
    char *ip = NULL;
    if (!sa || apr_sockaddr_ip_get(&ip, sa) != APR_SUCCESS || !ip)
        Py_RETURN_NONE;
    return Py_BuildValue("(si)", ip, (int)sa->port);
}

static PyObject *conn_get_remote_addr(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    return sockaddr_tuple(MP_CONN_CLIENT_ADDR(self->c));
}

static PyObject *conn_get_local_addr(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    return sockaddr_tuple(self->c->local_addr);
}

static PyObject *conn_get_remote_ip(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    return mp_str_or_none(MP_CONN_CLIENT_IP(self->c));
}

static PyObject *conn_get_aborted(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    return PyBool_FromLong(self->c->aborted);
}

static PyObject *conn_get_double_reverse(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    return PyLong_FromLong(self->c->double_reverse);
}

static PyObject *conn_get_keepalive(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    return PyLong_FromLong((long)self->c->keepalive);
}

static PyObject *conn_get_base_server(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    if (!self->base_server
        && !(self->base_server = mp_server_wrap(PyType_GetModuleState(Py_TYPE(self)),
                                                self->c->base_server)))
        return NULL;
    Py_INCREF(self->base_server);
    return self->base_server;
}

static PyObject *conn_get_notes(mp_conn_object *self, void *closure)
{
    (void)closure;
    if (!conn_usable(self))
        return NULL;
    if (!self->notes
        && !(self->notes = mp_table_wrap(PyType_GetModuleState(Py_TYPE(self)), self->c->notes,
                                         self->c->pool, (PyObject *)self, self->alive)))
        return NULL;
    Py_INCREF(self->notes);
    return self->notes;
}

/* ---------------------------------------------------------------- methods */

static PyObject *conn_log_error(mp_conn_object *self, PyObject *args)
{
    const char *msg;
    int level = APLOG_ERR;
    if (!PyArg_ParseTuple(args, "s|i:log_error", &msg, &level) || !conn_usable(self))
        return NULL;
    ap_log_cerror(APLOG_MARK, level, 0, self->c, "%s", msg);
    Py_RETURN_NONE;
}

/*
 * read/readline/write talk to the connection's filter chains directly, which
 * only a connection handler may do (a request's body and response go through
 * HTTP's filters: req.read() / req.write()).  One call at a time: Apache's
 * filters and bucket allocator are not thread-safe.
 */
static int conn_io_usable(mp_conn_object *self, const char *what)
{
    if (!conn_usable(self))
        return 0;
    if (!self->handler) {
        PyErr_Format(PyExc_RuntimeError,
                     "connection.%s() is only for connection handlers (PythonConnectionHandler);"
                     " in a request handler use req.%s()", what, what);
        return 0;
    }
    if (self->busy) {
        PyErr_Format(PyExc_RuntimeError,
                     "connection.%s(): another thread is reading or writing this connection",
                     what);
        return 0;
    }
    if (!self->bb)
        self->bb = apr_brigade_create(self->c->pool, self->c->bucket_alloc);
    return 1;
}

/* An OSError for an APR status: errno values give the matching subclass. */
static void conn_io_error(apr_status_t rv, const char *what)
{
    char buf[256];
    PyObject *exc;
    apr_strerror(rv, buf, sizeof(buf));
    if (APR_STATUS_IS_TIMEUP(rv)) {
        PyErr_Format(PyExc_TimeoutError,
                     "connection.%s(): timed out waiting for the client (Apache's Timeout)",
                     what);
        return;
    }
    if (rv == APR_ENOMEM) {
        PyErr_NoMemory();
        return;
    }
    if (rv > 0 && rv < APR_OS_START_ERROR) {
        /* OSError(errno, text) picks the subclass: ConnectionResetError, BrokenPipeError... */
        PyObject *msg = PyUnicode_FromFormat("connection.%s() failed: %s", what, buf);
        exc = msg ? PyObject_CallFunction(PyExc_OSError, "iO", (int)rv, msg) : NULL;
        Py_XDECREF(msg);
        if (exc) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return;
    }
    PyErr_Format(PyExc_OSError, "connection.%s() failed: %s", what, buf);
}

static apr_size_t rbuf_avail(const mp_conn_object *self)
{
    return self->rbuf_len - self->rbuf_pos;
}

/* Room for `more` bytes after the buffered ones (GIL not needed: plain memory). */
static int rbuf_reserve(mp_conn_object *self, apr_size_t more)
{
    if (self->rbuf_pos && self->rbuf_pos == self->rbuf_len)
        self->rbuf_pos = self->rbuf_len = 0;
    if (self->rbuf_cap - self->rbuf_len >= more)
        return 1;
    if (self->rbuf_pos) {
        memmove(self->rbuf, self->rbuf + self->rbuf_pos, self->rbuf_len - self->rbuf_pos);
        self->rbuf_len -= self->rbuf_pos;
        self->rbuf_pos = 0;
        if (self->rbuf_cap - self->rbuf_len >= more)
            return 1;
    }
    {
        apr_size_t cap = self->rbuf_cap ? self->rbuf_cap : 8192;
        char *nb;
        while (cap - self->rbuf_len < more)
            cap *= 2;
        nb = realloc(self->rbuf, cap);
        if (!nb)
            return 0;
        self->rbuf = nb;
        self->rbuf_cap = cap;
    }
    return 1;
}

/*
 * Append to the read buffer what the input filters give in `mode`: called
 * without the GIL.  What arrived is kept even when an error follows, so a
 * read retried after a timeout loses nothing.  *eof is set at the end of input.
 */
static apr_status_t pull(mp_conn_object *self, ap_input_mode_t mode, apr_off_t n, int *eof)
{
    conn_rec *c = self->c;
    apr_bucket_brigade *bb = self->bb;
    apr_size_t got = 0;
    apr_status_t rv = ap_get_brigade(c->input_filters, bb, mode, APR_BLOCK_READ, n);
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;
        apr_status_t rb;
        if (APR_BUCKET_IS_EOS(b)) {
            *eof = 1;
            break;
        }
        if (APR_BUCKET_IS_METADATA(b))
            continue;
        rb = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rb != APR_SUCCESS) {
            if (rv == APR_SUCCESS)
                rv = rb;
            break;
        }
        if (!len)
            continue;
        if (!rbuf_reserve(self, len)) {
            rv = APR_ENOMEM;
            break;
        }
        memcpy(self->rbuf + self->rbuf_len, data, len);
        self->rbuf_len += len;
        got += len;
    }
    apr_brigade_cleanup(bb);
    if (APR_STATUS_IS_EOF(rv)) {
        *eof = 1;
        rv = APR_SUCCESS;
    }
    /* A blocking read that brings nothing is the end of the input. */
    if (rv == APR_SUCCESS && !got)
        *eof = 1;
    return rv;
}

/* Read more into the buffer with the GIL released; -1 with an exception set on error. */
static int conn_fill(mp_conn_object *self, ap_input_mode_t mode, apr_off_t n, const char *what)
{
    apr_status_t rv;
    int eof = 0;
    if (self->eof)
        return 0;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rv = pull(self, mode, n, &eof);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (eof)
        self->eof = 1;
    if (rv != APR_SUCCESS) {
        conn_io_error(rv, what);
        return -1;
    }
    return 0;
}

static PyObject *rbuf_take(mp_conn_object *self, apr_size_t n)
{
    PyObject *out = PyBytes_FromStringAndSize(self->rbuf ? self->rbuf + self->rbuf_pos : NULL,
                                              (Py_ssize_t)n);
    if (out)
        self->rbuf_pos += n;
    return out;
}

#define CONN_READ_CHUNK 65536

static PyObject *conn_read(mp_conn_object *self, PyObject *args)
{
    Py_ssize_t want = -1;
    if (!PyArg_ParseTuple(args, "|n:read", &want) || !conn_io_usable(self, "read"))
        return NULL;
    if (want == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    if (want < 0) {
        /* everything until the client closes its end */
        while (!self->eof)
            if (conn_fill(self, AP_MODE_READBYTES, CONN_READ_CHUNK, "read") < 0)
                return NULL;
        return rbuf_take(self, rbuf_avail(self));
    }
    /* at most `want` bytes: what is buffered, else block until something comes */
    while (!rbuf_avail(self) && !self->eof)
        if (conn_fill(self, AP_MODE_READBYTES, (apr_off_t)want, "read") < 0)
            return NULL;
    return rbuf_take(self, rbuf_avail(self) < (apr_size_t)want ? rbuf_avail(self)
                                                                : (apr_size_t)want);
}

static PyObject *conn_readline(mp_conn_object *self, PyObject *args)
{
    Py_ssize_t limit = -1;
    apr_size_t scanned = 0;
    if (!PyArg_ParseTuple(args, "|n:readline", &limit) || !conn_io_usable(self, "readline"))
        return NULL;
    if (limit == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    for (;;) {
        apr_size_t avail = rbuf_avail(self);
        const char *start = self->rbuf ? self->rbuf + self->rbuf_pos : NULL;
        const char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            apr_size_t take = (apr_size_t)(nl - start) + 1;
            if (limit > 0 && take > (apr_size_t)limit)
                take = (apr_size_t)limit;
            return rbuf_take(self, take);
        }
        if (limit > 0 && avail >= (apr_size_t)limit)
            return rbuf_take(self, (apr_size_t)limit);
        if (self->eof)
            return rbuf_take(self, avail);
        scanned = avail;
        /*
         * A line without a limit: GETLINE reads no further than the newline.
         * With a limit, take what is there up to it rather than wait for one.
         */
        if (conn_fill(self, limit > 0 ? AP_MODE_READBYTES : AP_MODE_GETLINE,
                      limit > 0 ? (apr_off_t)((apr_size_t)limit - avail) : 0, "readline") < 0)
            return NULL;
    }
}

static PyObject *conn_write(mp_conn_object *self, PyObject *args)
{
    PyObject *data;
    Py_buffer view;
    const char *buf;
    Py_ssize_t len;
    apr_status_t rv;

    if (!PyArg_ParseTuple(args, "O:write", &data) || !conn_io_usable(self, "write"))
        return NULL;
    view.obj = NULL;
    if (PyUnicode_Check(data)) {
        /* str goes out as UTF-8 */
        if (!(buf = PyUnicode_AsUTF8AndSize(data, &len)))
            return NULL;
    }
    else {
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
            PyErr_Format(PyExc_TypeError,
                         "write() takes str or a bytes-like object, not %.100s",
                         Py_TYPE(data)->tp_name);
            return NULL;
        }
        buf = view.buf;
        len = view.len;
    }
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    {
        conn_rec *c = self->c;
        apr_bucket_brigade *bb = self->bb;
        if (len)
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(buf, (apr_size_t)len,
                                                                    c->bucket_alloc));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
        rv = ap_pass_brigade(c->output_filters, bb);
        apr_brigade_cleanup(bb);
    }
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (view.obj)
        PyBuffer_Release(&view);
    if (rv != APR_SUCCESS) {
        conn_io_error(rv, "write");
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * The connection handler returned: the conn_rec is about to go.  A thread
 * still blocked in read() or write() is woken by shutting the socket down,
 * and waited for, so that nothing touches the connection after this.
 */
void mp_conn_invalidate(PyObject *o)
{
    mp_conn_object *self = (mp_conn_object *)o;
    if (!self->c)
        return;
    if (self->busy) {
        apr_socket_t *sock = MP_CONN_SOCKET(self->c);
        if (sock)
            (void)apr_socket_shutdown(sock, APR_SHUTDOWN_READWRITE);
        while (self->busy) {
            Py_BEGIN_ALLOW_THREADS
            apr_sleep(apr_time_from_msec(10));
            Py_END_ALLOW_THREADS
        }
    }
    self->c = NULL;
    self->bb = NULL;
}

static PyMethodDef conn_methods[] = {
    {"log_error", (PyCFunction)conn_log_error, METH_VARARGS,
     "log_error(message[, level]) to the error log, with this connection's context"},
    {"read", (PyCFunction)conn_read, METH_VARARGS,
     "read([length]) -> bytes: at most length bytes, blocking until there is one; "
     "everything until the client closes when length is omitted or negative; b'' at the end"},
    {"readline", (PyCFunction)conn_readline, METH_VARARGS,
     "readline([length]) -> bytes: a line with its newline, or at most length bytes; "
     "b'' at the end"},
    {"write", (PyCFunction)conn_write, METH_VARARGS,
     "write(data): send bytes (str as UTF-8) to the client and flush"},
    {NULL}
};

#define RO(name, type, field, doc) \
    MP_MEMBER_RO(conn_rec, name, type, field, conn_get_member, doc)

static PyGetSetDef conn_getset[] = {
    RO("remote_host", MP_M_STR, remote_host, "the client's DNS name, if looked up"),
    RO("remote_logname", MP_M_STR, remote_logname, "the identd login name, if any"),
    RO("keepalives", MP_M_INT, keepalives, "requests served on this connection"),
    RO("local_ip", MP_M_STR, local_ip, "the server's IP address"),
    RO("local_host", MP_M_STR, local_host, "the server's DNS name"),
    RO("id", MP_M_LONG, id, "the connection's unique id"),
    {"remote_ip", (getter)conn_get_remote_ip, NULL, "the client's IP address", NULL},
    {"remote_addr", (getter)conn_get_remote_addr, NULL, "(ip, port) of the client", NULL},
    {"local_addr", (getter)conn_get_local_addr, NULL, "(ip, port) of the server", NULL},
    {"aborted", (getter)conn_get_aborted, NULL, "True when the connection broke", NULL},
    {"double_reverse", (getter)conn_get_double_reverse, NULL,
     "1 if the double reverse DNS lookup passed, -1 if it failed, 0 if not done", NULL},
    {"keepalive", (getter)conn_get_keepalive, NULL, "one of apache.AP_CONN_*", NULL},
    {"base_server", (getter)conn_get_base_server, NULL, "the server the connection came to",
     NULL},
    {"notes", (getter)conn_get_notes, NULL, "notes that live as long as the connection", NULL},
    {NULL}
};

static PyType_Slot conn_slots[] = {
    {Py_tp_doc, "the connection object (manual 4.5.5)"},
    {Py_tp_dealloc, conn_dealloc},
    {Py_tp_traverse, conn_traverse},
    {Py_tp_clear, conn_clear},
    {Py_tp_getset, conn_getset},
    {Py_tp_methods, conn_methods},
    {0, NULL}
};

PyType_Spec mp_conn_spec = {
    .name = "mod_python.apache.connection",
    .basicsize = sizeof(mp_conn_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = conn_slots,
};
