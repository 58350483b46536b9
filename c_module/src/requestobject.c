/*
 * requestobject.c -- mp_request, the Python view of an Apache request_rec
 * (manual 4.5.4).  One object per request and interpreter, alive for the
 * request's phases; attributes set by one handler are seen by the next.
 */
#include "mp_members.h"
#include "mp_config.h"
#include "mp_interp.h"
#include "mp_dispatch.h"
#include "mp_filter.h"
#include "apr_optional.h"

/* mod_ssl's optional functions, declared here so mod_ssl.h is not needed. */
APR_DECLARE_OPTIONAL_FN(int, ssl_is_https, (conn_rec *));
APR_DECLARE_OPTIONAL_FN(char *, ssl_var_lookup,
                        (apr_pool_t *, server_rec *, conn_rec *, request_rec *, char *));

#define READ_CHUNK 8192

static int req_usable(mp_request_object *self)
{
    if (!self->r) {
        PyErr_SetString(PyExc_RuntimeError, "this request has finished");
        return 0;
    }
    return 1;
}

PyObject *mp_request_new(PyObject *c_module, request_rec *r, const char *interpreter)
{
    mp_module_state *st = mp_state_of(c_module);
    mp_request_object *self;
    if (!st)
        return NULL;
    self = PyObject_GC_New(mp_request_object, st->request_type);
    if (!self)
        return NULL;
    memset((char *)self + sizeof(PyObject), 0, sizeof(*self) - sizeof(PyObject));
    self->r = r;
    self->interpreter = PyUnicode_FromString(interpreter);
    self->cleanups = PyList_New(0);
    if (!self->interpreter || !self->cleanups) {
        PyObject_GC_Track(self);
        Py_DECREF(self);
        return NULL;
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

void mp_request_set_phase(PyObject *req, PyObject *phase)
{
    mp_request_object *self = (mp_request_object *)req;
    Py_INCREF(phase);
    Py_XSETREF(self->phase, phase);
}

void mp_request_run_cleanups(PyObject *req)
{
    mp_request_object *self = (mp_request_object *)req;
    Py_ssize_t i;
    self->cleanups_started = 1;
    for (i = 0; i < PyList_GET_SIZE(self->cleanups); i++) {
        PyObject *pair = PyList_GET_ITEM(self->cleanups, i), *res;
        PyObject *func = PyTuple_GET_ITEM(pair, 0), *data = PyTuple_GET_ITEM(pair, 1);
        res = PyObject_CallOneArg(func, data);  /* called with data, None by default */
        if (!res)
            mp_log_exception(self->r->server, self->r, "a cleanup registered by the request");
        Py_XDECREF(res);
    }
}

void mp_request_invalidate(PyObject *req)
{
    mp_request_object *self = (mp_request_object *)req;
    self->r = NULL;
    Py_CLEAR(self->cleanups);
}

static int req_traverse(mp_request_object *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->dict);
    Py_VISIT(self->headers_in);
    Py_VISIT(self->headers_out);
    Py_VISIT(self->err_headers_out);
    Py_VISIT(self->subprocess_env);
    Py_VISIT(self->notes);
    Py_VISIT(self->server);
    Py_VISIT(self->connection);
    Py_VISIT(self->cleanups);
    Py_VISIT(self->dynamic);
    Py_VISIT(self->hlist);
    return 0;
}

static int req_clear(mp_request_object *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->headers_in);
    Py_CLEAR(self->headers_out);
    Py_CLEAR(self->err_headers_out);
    Py_CLEAR(self->subprocess_env);
    Py_CLEAR(self->notes);
    Py_CLEAR(self->server);
    Py_CLEAR(self->connection);
    Py_CLEAR(self->cleanups);
    Py_CLEAR(self->dynamic);
    Py_CLEAR(self->hlist);
    Py_CLEAR(self->phase);
    Py_CLEAR(self->interpreter);
    return 0;
}

static void req_dealloc(mp_request_object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    req_clear(self);
    free(self->rbuf);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* ---------------------------------------------------------------- writing */

static PyObject *req_write(mp_request_object *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "flush", NULL};
    PyObject *data;
    int flush = 1, rc;
    Py_buffer view;
    const char *buf;
    Py_ssize_t len;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:write", kwlist, &data, &flush))
        return NULL;
    if (!req_usable(self))
        return NULL;
    view.obj = NULL;
    if (PyUnicode_Check(data)) {
        /* str goes out as UTF-8; the page's charset is the handler's to declare */
        buf = PyUnicode_AsUTF8AndSize(data, &len);
        if (!buf)
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
    Py_BEGIN_ALLOW_THREADS
    rc = len ? ap_rwrite(buf, (int)len, self->r) : 0;
    if (rc >= 0 && flush)
        rc = ap_rflush(self->r);
    Py_END_ALLOW_THREADS
    if (view.obj)
        PyBuffer_Release(&view);
    if (rc < 0) {
        PyErr_SetString(PyExc_OSError, "write failed: the client closed the connection");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *req_flush(mp_request_object *self, PyObject *unused)
{
    int rc;
    (void)unused;
    if (!req_usable(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = ap_rflush(self->r);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_SetString(PyExc_OSError, "flush failed: the client closed the connection");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *req_set_content_length(mp_request_object *self, PyObject *args)
{
    long long len;
    if (!PyArg_ParseTuple(args, "L:set_content_length", &len) || !req_usable(self))
        return NULL;
    if (len < 0) {
        PyErr_SetString(PyExc_ValueError, "a content length cannot be negative");
        return NULL;
    }
    ap_set_content_length(self->r, (apr_off_t)len);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- reading */

/*
 * Raise OSError(message); a non-zero `status` rides on it as its `status`
 * attribute, so that the dispatcher answers the request with it.
 */
static void set_read_error(const char *message, int status)
{
    PyObject *exc, *value;

    exc = PyObject_CallFunction(PyExc_OSError, "s", message);
    if (!exc)
        return;
    if (status) {
        value = PyLong_FromLong(status);
        if (!value || PyObject_SetAttrString(exc, "status", value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(exc);
            return;
        }
        Py_DECREF(value);
    }
    PyErr_SetObject(PyExc_OSError, exc);
    Py_DECREF(exc);
}

/* Did reading fail because the body is over LimitRequestBody?  (2.2 says so
 * only in its error log; 2.4 in an error bucket we do not see.) */
static int over_body_limit(request_rec *r)
{
    apr_off_t limit = ap_get_limit_req_body(r), length;
    const char *header = apr_table_get(r->headers_in, "Content-Length");
    char *end = NULL;

    if (limit <= 0)
        return 0;
    if (r->read_length > limit)
        return 1;
    if (header && apr_strtoff(&length, header, &end, 10) == APR_SUCCESS && !*end)
        return length > limit;
    return 0;
}

/* Prepare to read the body once: dechunk, send 100-continue if asked. */
static int read_start(mp_request_object *self)
{
    int rc;
    if (self->read_started)
        return 0;
    self->read_started = 1;
    rc = ap_setup_client_block(self->r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK) {
        set_read_error(apr_psprintf(self->r->pool,
                                    "cannot read the request body (HTTP status %d)", rc),
                       rc);
        return -1;
    }
    if (!ap_should_client_block(self->r))
        self->read_eof = 1;
    return 0;
}

/* Read up to `len` bytes from the client into buf; 0 at the end of the body. */
static long read_client(mp_request_object *self, char *buf, apr_size_t len)
{
    long n;
    if (self->read_eof)
        return 0;
    Py_BEGIN_ALLOW_THREADS
    n = ap_get_client_block(self->r, buf, len);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        if (over_body_limit(self->r))
            set_read_error(apr_psprintf(self->r->pool,
                                        "cannot read the request body: it is larger than "
                                        "LimitRequestBody (%" APR_OFF_T_FMT " bytes)",
                                        ap_get_limit_req_body(self->r)),
                           HTTP_REQUEST_ENTITY_TOO_LARGE);
        else
            set_read_error("error reading the request body: the client went away or timed out",
                           0);
        return -1;
    }
    if (n == 0)
        self->read_eof = 1;
    return n;
}

static apr_size_t rbuf_avail(mp_request_object *self)
{
    return self->rbuf_len - self->rbuf_pos;
}

static PyObject *req_read(mp_request_object *self, PyObject *args)
{
    Py_ssize_t want = -1, have = 0, cap;
    PyObject *out;

    if (!PyArg_ParseTuple(args, "|n:read", &want) || !req_usable(self) || read_start(self) < 0)
        return NULL;
    if (want == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    cap = want > 0 ? want : (Py_ssize_t)(rbuf_avail(self) + READ_CHUNK);
    out = PyBytes_FromStringAndSize(NULL, cap);
    if (!out)
        return NULL;
    if (rbuf_avail(self)) {
        apr_size_t n = rbuf_avail(self);
        if (want > 0 && (Py_ssize_t)n > want)
            n = (apr_size_t)want;
        memcpy(PyBytes_AS_STRING(out), self->rbuf + self->rbuf_pos, n);
        self->rbuf_pos += n;
        have = (Py_ssize_t)n;
    }
    while (want < 0 || have < want) {
        long n;
        if (have == cap) {
            cap *= 2;
            if (_PyBytes_Resize(&out, cap) < 0)
                return NULL;
        }
        n = read_client(self, PyBytes_AS_STRING(out) + have, (apr_size_t)(cap - have));
        if (n < 0) {
            Py_DECREF(out);
            return NULL;
        }
        if (n == 0)
            break;
        have += n;
    }
    if (have != cap && _PyBytes_Resize(&out, have) < 0)
        return NULL;
    return out;
}

/* Make sure the read-ahead buffer holds at least one more byte; 0 at the end. */
static long rbuf_fill(mp_request_object *self)
{
    long n;
    if (self->rbuf_pos > 0 && self->rbuf_pos == self->rbuf_len)
        self->rbuf_pos = self->rbuf_len = 0;
    if (self->rbuf_cap - self->rbuf_len < READ_CHUNK) {
        apr_size_t cap = self->rbuf_cap ? self->rbuf_cap * 2 : READ_CHUNK * 2;
        char *nb = realloc(self->rbuf, cap);
        if (!nb) {
            PyErr_NoMemory();
            return -1;
        }
        self->rbuf = nb;
        self->rbuf_cap = cap;
    }
    n = read_client(self, self->rbuf + self->rbuf_len, self->rbuf_cap - self->rbuf_len);
    if (n > 0)
        self->rbuf_len += (apr_size_t)n;
    return n;
}

static PyObject *readline_limit(mp_request_object *self, Py_ssize_t limit)
{
    apr_size_t scanned = 0;
    PyObject *line;
    for (;;) {
        char *start = self->rbuf + self->rbuf_pos;
        apr_size_t avail = rbuf_avail(self);
        char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        apr_size_t take;
        long n;
        if (nl)
            take = (apr_size_t)(nl - start) + 1;
        else if (limit >= 0 && avail >= (apr_size_t)limit)
            take = (apr_size_t)limit;
        else {
            scanned = avail;
            n = rbuf_fill(self);
            if (n < 0)
                return NULL;
            if (n > 0)
                continue;
            take = rbuf_avail(self);  /* the end of the body: what is left */
        }
        if (limit >= 0 && take > (apr_size_t)limit)
            take = (apr_size_t)limit;
        line = PyBytes_FromStringAndSize(self->rbuf + self->rbuf_pos, (Py_ssize_t)take);
        if (line)
            self->rbuf_pos += take;
        return line;
    }
}

static PyObject *req_readline(mp_request_object *self, PyObject *args)
{
    Py_ssize_t limit = -1;
    if (!PyArg_ParseTuple(args, "|n:readline", &limit) || !req_usable(self)
        || read_start(self) < 0)
        return NULL;
    if (limit == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    return readline_limit(self, limit);
}

static PyObject *req_readlines(mp_request_object *self, PyObject *args)
{
    Py_ssize_t hint = 0, total = 0;
    PyObject *lines;
    if (!PyArg_ParseTuple(args, "|n:readlines", &hint) || !req_usable(self)
        || read_start(self) < 0)
        return NULL;
    lines = PyList_New(0);
    while (lines) {
        PyObject *line = readline_limit(self, -1);
        if (!line || PyBytes_GET_SIZE(line) == 0 || PyList_Append(lines, line) < 0) {
            if (!line)
                Py_CLEAR(lines);
            Py_XDECREF(line);
            break;
        }
        total += PyBytes_GET_SIZE(line);
        Py_DECREF(line);
        if (hint > 0 && total >= hint)
            break;
    }
    return lines;
}

/* ---------------------------------------------------------------- config, auth, logging */

static PyObject *wrap_request_table(mp_request_object *self, apr_table_t *t)
{
    return mp_table_wrap(PyType_GetModuleState(Py_TYPE(self)), t, self->r->pool,
                         (PyObject *)self, (mp_alive_t)&self->r);
}

static PyObject *req_get_config(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return wrap_request_table(self, mp_dir_conf(self->r->per_dir_config)->directives);
}

static PyObject *req_get_options(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return wrap_request_table(self, mp_dir_conf(self->r->per_dir_config)->options);
}

static PyObject *req_get_basic_auth_pw(mp_request_object *self, PyObject *unused)
{
    const char *pw = NULL;
    (void)unused;
    if (!req_usable(self))
        return NULL;
    if (ap_get_basic_auth_pw(self->r, &pw) != OK)
        Py_RETURN_NONE;
    return mp_str_or_none(pw);
}

static PyObject *req_log_error(mp_request_object *self, PyObject *args)
{
    const char *msg;
    int level = APLOG_ERR;
    if (!PyArg_ParseTuple(args, "s|i:log_error", &msg, &level) || !req_usable(self))
        return NULL;
    ap_log_rerror(APLOG_MARK, level, 0, self->r, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *req_document_root(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return mp_path_or_none(ap_document_root(self->r));
}

static PyObject *req_construct_url(mp_request_object *self, PyObject *args)
{
    PyObject *uri;
    const char *u;
    if (!PyArg_ParseTuple(args, "U:construct_url", &uri) || !req_usable(self))
        return NULL;
    if (!(u = mp_latin1_copy(self->r->pool, uri, "uri")))
        return NULL;
    return mp_str_or_none(ap_construct_url(self->r->pool, u, self->r));
}

static PyObject *req_auth_name(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return mp_str_or_none(ap_auth_name(self->r));
}

static PyObject *req_auth_type(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return mp_str_or_none(ap_auth_type(self->r));
}

static PyObject *req_add_common_vars(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    ap_add_common_vars(self->r);
    Py_RETURN_NONE;
}

static PyObject *req_register_cleanup(mp_request_object *self, PyObject *args)
{
    PyObject *func, *data = Py_None, *pair;
    if (!PyArg_ParseTuple(args, "O|O:register_cleanup", &func, &data) || !req_usable(self))
        return NULL;
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "register_cleanup() needs a callable");
        return NULL;
    }
    if (self->cleanups_started)   /* too late, as the manual says: no effect */
        Py_RETURN_NONE;
    pair = PyTuple_Pack(2, func, data);
    if (!pair || PyList_Append(self->cleanups, pair) < 0) {
        Py_XDECREF(pair);
        return NULL;
    }
    Py_DECREF(pair);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- the rest of 4.5.4 */

static PyObject *req_allow_methods(mp_request_object *self, PyObject *args)
{
    PyObject *methods, *seq;
    int reset = 0;
    Py_ssize_t i;
    if (!PyArg_ParseTuple(args, "O|p:allow_methods", &methods, &reset) || !req_usable(self))
        return NULL;
    if (PyUnicode_Check(methods)) {
        PyErr_SetString(PyExc_TypeError, "allow_methods() takes a sequence of method names");
        return NULL;
    }
    if (!(seq = PySequence_Fast(methods, "allow_methods() takes a sequence of method names")))
        return NULL;
    if (reset) {
        ap_clear_method_list(self->r->allowed_methods);
        self->r->allowed = 0;
    }
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        const char *m = mp_latin1_copy(self->r->pool, PySequence_Fast_GET_ITEM(seq, i),
                                       "method name");
        if (!m) {
            Py_DECREF(seq);
            return NULL;
        }
        ap_method_list_add(self->r->allowed_methods, m);
    }
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

static PyObject *req_discard_request_body(mp_request_object *self, PyObject *unused)
{
    int rc;
    (void)unused;
    if (!req_usable(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = ap_discard_request_body(self->r);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyObject *req_get_remote_host(mp_request_object *self, PyObject *args)
{
    int type = REMOTE_NAME, is_ip = 0;
    PyObject *want_ip = Py_None;
    const char *host;
    if (!PyArg_ParseTuple(args, "|iO:get_remote_host", &type, &want_ip) || !req_usable(self))
        return NULL;
    if (type != REMOTE_HOST && type != REMOTE_NAME && type != REMOTE_NOLOOKUP
        && type != REMOTE_DOUBLE_REV) {
        PyErr_SetString(PyExc_ValueError, "get_remote_host(): type must be one of "
                        "apache.REMOTE_HOST, REMOTE_NAME, REMOTE_NOLOOKUP, REMOTE_DOUBLE_REV");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS  /* may do a DNS lookup */
    host = ap_get_remote_host(self->r->connection, self->r->per_dir_config, type,
                              want_ip != Py_None ? &is_ip : NULL);
    Py_END_ALLOW_THREADS
    if (!host)
        Py_RETURN_NONE;
    if (want_ip != Py_None)
        return Py_BuildValue("(Ni)", mp_str_or_none(host), is_ip);
    return mp_str_or_none(host);
}

static PyObject *req_internal_redirect(mp_request_object *self, PyObject *args)
{
    PyObject *uri_obj;
    const char *uri;
    if (!PyArg_ParseTuple(args, "U:internal_redirect", &uri_obj) || !req_usable(self))
        return NULL;
    if (!(uri = mp_latin1_copy(self->r->pool, uri_obj, "internal_redirect() uri")))
        return NULL;
    /* the new request runs every phase, our hooks included: no GIL while it does */
    Py_BEGIN_ALLOW_THREADS
    ap_internal_redirect(uri, self->r);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *req_is_https(mp_request_object *self, PyObject *unused)
{
    APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return PyLong_FromLong(is_https ? is_https(self->r->connection) : 0);
}

static PyObject *req_ssl_var_lookup(mp_request_object *self, PyObject *args)
{
    APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
    PyObject *name_obj;
    const char *name;
    char *val;
    if (!PyArg_ParseTuple(args, "U:ssl_var_lookup", &name_obj) || !req_usable(self))
        return NULL;
    if (!(name = mp_latin1_copy(self->r->pool, name_obj, "SSL variable name")))
        return NULL;
    if (!lookup)
        Py_RETURN_NONE;
    val = lookup(self->r->pool, self->r->server, self->r->connection, self->r, (char *)name);
    if (!val || !*val)
        Py_RETURN_NONE;
    return mp_str_or_none(val);
}

static PyObject *req_meets_conditions(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    return PyLong_FromLong(ap_meets_conditions(self->r));
}

static PyObject *req_set_etag(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    ap_set_etag(self->r);
    Py_RETURN_NONE;
}

static PyObject *req_set_last_modified(mp_request_object *self, PyObject *unused)
{
    (void)unused;
    if (!req_usable(self))
        return NULL;
    ap_set_last_modified(self->r);
    Py_RETURN_NONE;
}

static PyObject *req_update_mtime(mp_request_object *self, PyObject *args)
{
    double t;
    if (!PyArg_ParseTuple(args, "d:update_mtime", &t) || !req_usable(self))
        return NULL;
    ap_update_mtime(self->r, (apr_time_t)(t * APR_USEC_PER_SEC));
    Py_RETURN_NONE;
}

static PyObject *req_requires(mp_request_object *self, PyObject *unused)
{
    const apr_array_header_t *reqs;
    PyObject *out;
    int i;
    (void)unused;
    if (!req_usable(self))
        return NULL;
#if MP_HTTPD_24
    reqs = mp_dir_conf(self->r->per_dir_config)->requires;
#else
    reqs = ap_requires(self->r);
#endif
    out = PyTuple_New(reqs ? reqs->nelts : 0);
    for (i = 0; out && reqs && i < reqs->nelts; i++) {
#if MP_HTTPD_24
        PyObject *line = mp_str_or_none(APR_ARRAY_IDX(reqs, i, const char *));
#else
        PyObject *line = mp_str_or_none(((require_line *)reqs->elts)[i].requirement);
#endif
        if (!line) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i, line);
    }
    return out;
}

static PyObject *req_sendfile(mp_request_object *self, PyObject *args)
{
    PyObject *path_obj;
    long long offset = 0, len = -1;
    const char *path;
    apr_file_t *fd;
    apr_finfo_t fi;
    apr_size_t sent = 0;
    apr_status_t rc;
    char buf[256];

    if (!PyArg_ParseTuple(args, "U|LL:sendfile", &path_obj, &offset, &len) || !req_usable(self))
        return NULL;
    if (offset < 0) {
        PyErr_SetString(PyExc_ValueError, "sendfile(): offset cannot be negative");
        return NULL;
    }
    if (!(path = mp_path_copy(self->r->pool, path_obj, "sendfile() path")))
        return NULL;
    /* The file stays open with the request: Apache may write it out after we return. */
    Py_BEGIN_ALLOW_THREADS
    rc = apr_file_open(&fd, path, APR_READ | APR_BINARY, APR_OS_DEFAULT, self->r->pool);
    if (rc == APR_SUCCESS)
        rc = apr_file_info_get(&fi, APR_FINFO_SIZE, fd);
    Py_END_ALLOW_THREADS
    if (rc != APR_SUCCESS) {
        PyErr_Format(PyExc_OSError, "sendfile(%R): %s", path_obj,
                     apr_strerror(rc, buf, sizeof(buf)));
        return NULL;
    }
    if (offset > fi.size)
        offset = fi.size;
    if (len < 0 || offset + len > fi.size)
        len = fi.size - offset;
    Py_BEGIN_ALLOW_THREADS
    rc = len ? ap_send_fd(fd, self->r, (apr_off_t)offset, (apr_size_t)len, &sent) : APR_SUCCESS;
    Py_END_ALLOW_THREADS
    if (rc != APR_SUCCESS) {
        PyErr_Format(PyExc_OSError, "sendfile(%R): %s", path_obj,
                     apr_strerror(rc, buf, sizeof(buf)));
        return NULL;
    }
    return PyLong_FromSize_t(sent);
}

static int phase_of(const char *directive)
{
    int i;
    for (i = 0; i < MP_PHASE_CLEANUP; i++)
        if (strcmp(mp_phase_directive[i], directive) == 0)
            return i;
    return -1;
}

static PyObject *req_add_handler(mp_request_object *self, PyObject *args)
{
    const char *htype;
    PyObject *handler, *dir = Py_None, *list, *entry, *default_name;
    int phase;
    char *lower;

    if (!PyArg_ParseTuple(args, "sO|O:add_handler", &htype, &handler, &dir) || !req_usable(self))
        return NULL;
    if ((phase = phase_of(htype)) < 0) {
        PyErr_Format(PyExc_ValueError, "add_handler(): %s is not a request phase directive "
                     "(PythonCleanupHandler: use req.register_cleanup())", htype);
        return NULL;
    }
    if (!PyUnicode_Check(handler) && !PyCallable_Check(handler)) {
        PyErr_SetString(PyExc_TypeError, "add_handler(): handler must be 'module[::callable]' "
                        "or a callable");
        return NULL;
    }
    if (dir == Py_None && self->hlist && self->hlist != Py_None) {
        /* inherited from the handler making the registration */
        dir = PyObject_GetAttrString(self->hlist, "directory");
        if (!dir)
            return NULL;
    }
    else {
        Py_INCREF(dir);
    }
    if (!self->dynamic && !(self->dynamic = PyDict_New())) {
        Py_DECREF(dir);
        return NULL;
    }
    lower = apr_pstrdup(self->r->pool, htype + strlen("Python"));
    ap_str_tolower(lower);
    default_name = PyUnicode_FromString(lower);
    entry = default_name ? PyTuple_Pack(5, handler, dir, default_name, Py_False, Py_None) : NULL;
    Py_XDECREF(default_name);
    Py_DECREF(dir);
    if (!entry)
        return NULL;
    list = PyDict_GetItemString(self->dynamic, htype);
    if (!list) {
        if (!(list = PyList_New(0)) || PyDict_SetItemString(self->dynamic, htype, list) < 0) {
            Py_XDECREF(list);
            Py_DECREF(entry);
            return NULL;
        }
        Py_DECREF(list);   /* the dict holds it */
    }
    if (PyList_Append(list, entry) < 0) {
        Py_DECREF(entry);
        return NULL;
    }
    Py_DECREF(entry);
    mp_request_note_dynamic(self->r, phase, self->interp);
    Py_RETURN_NONE;
}

/* Filters (manual 4.5.4): the work is in filters.c. */
static PyObject *req_register_input_filter(mp_request_object *self, PyObject *args)
{
    return req_usable(self) ? mp_filter_register(self->r, 1, args, self->interpreter, self->hlist)
                            : NULL;
}

static PyObject *req_register_output_filter(mp_request_object *self, PyObject *args)
{
    return req_usable(self) ? mp_filter_register(self->r, 0, args, self->interpreter, self->hlist)
                            : NULL;
}

static PyObject *req_add_input_filter(mp_request_object *self, PyObject *args)
{
    return req_usable(self) ? mp_filter_add(self->r, 1, args) : NULL;
}

static PyObject *req_add_output_filter(mp_request_object *self, PyObject *args)
{
    return req_usable(self) ? mp_filter_add(self->r, 0, args) : NULL;
}

static PyMethodDef req_methods[] = {
    {"allow_methods", (PyCFunction)req_allow_methods, METH_VARARGS,
     "allow_methods(methods[, reset]): add method names to the Allow header"},
    {"discard_request_body", (PyCFunction)req_discard_request_body, METH_NOARGS,
     "read and throw away the request body; returns an Apache status"},
    {"get_remote_host", (PyCFunction)req_get_remote_host, METH_VARARGS,
     "get_remote_host([type, str_is_ip]) -> the client's name or address"},
    {"internal_redirect", (PyCFunction)req_internal_redirect, METH_VARARGS,
     "internal_redirect(new_uri): run a new request for new_uri"},
    {"is_https", (PyCFunction)req_is_https, METH_NOARGS, "non-zero on an SSL/TLS connection"},
    {"ssl_var_lookup", (PyCFunction)req_ssl_var_lookup, METH_VARARGS,
     "ssl_var_lookup(name) -> the mod_ssl variable's value, or None"},
    {"meets_conditions", (PyCFunction)req_meets_conditions, METH_NOARGS,
     "check If-* headers against mtime/ETag: apache.OK or a status to return"},
    {"set_etag", (PyCFunction)req_set_etag, METH_NOARGS, "set the ETag header"},
    {"set_last_modified", (PyCFunction)req_set_last_modified, METH_NOARGS,
     "set the Last-Modified header from req.mtime"},
    {"update_mtime", (PyCFunction)req_update_mtime, METH_VARARGS,
     "update_mtime(seconds): raise req.mtime to it if later"},
    {"requires", (PyCFunction)req_requires, METH_NOARGS,
     "the arguments of the Require directives in effect, as a tuple"},
    {"sendfile", (PyCFunction)req_sendfile, METH_VARARGS,
     "sendfile(path[, offset, len]) -> bytes sent, using Apache's file bucket"},
    {"add_handler", (PyCFunction)req_add_handler, METH_VARARGS,
     "add_handler(htype, handler[, dir]): run handler in phase htype of this request"},
    {"write", (PyCFunction)(void (*)(void))req_write, METH_VARARGS | METH_KEYWORDS,
     "write(data, flush=True): send str (as UTF-8) or bytes to the client"},
    {"flush", (PyCFunction)req_flush, METH_NOARGS, "send what is buffered to the client"},
    {"read", (PyCFunction)req_read, METH_VARARGS, "read([len]) -> bytes of the request body"},
    {"readline", (PyCFunction)req_readline, METH_VARARGS, "readline([len]) -> bytes"},
    {"readlines", (PyCFunction)req_readlines, METH_VARARGS, "readlines([sizehint]) -> [bytes]"},
    {"get_config", (PyCFunction)req_get_config, METH_NOARGS,
     "the mod_python directives in effect, as a table"},
    {"get_options", (PyCFunction)req_get_options, METH_NOARGS,
     "the PythonOption values in effect, as a table"},
    {"get_basic_auth_pw", (PyCFunction)req_get_basic_auth_pw, METH_NOARGS,
     "the Basic authentication password (sets req.user), or None"},
    {"log_error", (PyCFunction)req_log_error, METH_VARARGS,
     "log_error(message[, level]) to the error log, with this request's context"},
    {"document_root", (PyCFunction)req_document_root, METH_NOARGS, "the DocumentRoot"},
    {"construct_url", (PyCFunction)req_construct_url, METH_VARARGS,
     "construct_url(uri) -> a full URL for uri on this server"},
    {"auth_name", (PyCFunction)req_auth_name, METH_NOARGS, "the AuthName in effect"},
    {"auth_type", (PyCFunction)req_auth_type, METH_NOARGS, "the AuthType in effect"},
    {"add_common_vars", (PyCFunction)req_add_common_vars, METH_NOARGS,
     "fill req.subprocess_env with the CGI variables"},
    {"set_content_length", (PyCFunction)req_set_content_length, METH_VARARGS,
     "set_content_length(len): set clength and the Content-Length header"},
    {"register_cleanup", (PyCFunction)req_register_cleanup, METH_VARARGS,
     "register_cleanup(callable[, data]): call it when the request ends"},
    {"register_input_filter", (PyCFunction)req_register_input_filter, METH_VARARGS,
     "register_input_filter(name, 'module::callable'[, dir]): a filter for this request"},
    {"register_output_filter", (PyCFunction)req_register_output_filter, METH_VARARGS,
     "register_output_filter(name, 'module::callable'[, dir]): a filter for this request"},
    {"add_input_filter", (PyCFunction)req_add_input_filter, METH_VARARGS,
     "add_input_filter(name): add that filter to this request's input"},
    {"add_output_filter", (PyCFunction)req_add_output_filter, METH_VARARGS,
     "add_output_filter(name): add that filter to this request's output"},
    {NULL}
};

/* ---------------------------------------------------------------- attributes */

static PyObject *req_get_member(mp_request_object *self, void *closure)
{
    if (!req_usable(self))
        return NULL;
    return mp_member_get(self->r, closure);
}

static int req_set_member(mp_request_object *self, PyObject *v, void *closure)
{
    if (!req_usable(self))
        return -1;
    return mp_member_set(self->r, self->r->pool, closure, v);
}

static PyObject *req_get_content_type(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return NULL;
    return mp_str_or_none(self->r->content_type);
}

static int req_set_content_type(mp_request_object *self, PyObject *v, void *closure)
{
    const char *ct;
    (void)closure;
    if (!req_usable(self))
        return -1;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "content_type cannot be deleted");
        return -1;
    }
    if (!(ct = mp_latin1_copy(self->r->pool, v, "content_type")))
        return -1;
    if (strpbrk(ct, "\r\n")) {
        PyErr_SetString(PyExc_ValueError, "content_type must be on one line");
        return -1;
    }
    ap_set_content_type(self->r, ct);
    self->content_type_set = 1;
    return 0;
}

static PyObject *req_get_content_type_set(mp_request_object *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->content_type_set);
}

static int req_set_content_type_set(mp_request_object *self, PyObject *v, void *closure)
{
    int t = v ? PyObject_IsTrue(v) : 0;
    (void)closure;
    if (t < 0)
        return -1;
    self->content_type_set = t;
    return 0;
}

/* The cached table attributes: headers_in, ... */
#define TABLE_GETTER(attr)                                                         \
    static PyObject *req_get_##attr(mp_request_object *self, void *closure)       \
    {                                                                              \
        (void)closure;                                                             \
        if (!req_usable(self))                                                     \
            return NULL;                                                           \
        if (!self->attr && !(self->attr = wrap_request_table(self, self->r->attr))) \
            return NULL;                                                           \
        Py_INCREF(self->attr);                                                     \
        return self->attr;                                                         \
    }
TABLE_GETTER(headers_in)
TABLE_GETTER(headers_out)
TABLE_GETTER(err_headers_out)
TABLE_GETTER(subprocess_env)
TABLE_GETTER(notes)

static PyObject *req_get_server(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return NULL;
    if (!self->server
        && !(self->server = mp_server_wrap(PyType_GetModuleState(Py_TYPE(self)),
                                           self->r->server)))
        return NULL;
    Py_INCREF(self->server);
    return self->server;
}

static PyObject *req_get_connection(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return NULL;
    if (!self->connection
        && !(self->connection = mp_conn_wrap(PyType_GetModuleState(Py_TYPE(self)),
                                             self->r->connection, (PyObject *)self,
                                             (mp_alive_t)&self->r)))
        return NULL;
    Py_INCREF(self->connection);
    return self->connection;
}

static PyObject *req_get_phase(mp_request_object *self, void *closure)
{
    PyObject *v = self->phase ? self->phase : Py_None;
    (void)closure;
    Py_INCREF(v);
    return v;
}

static PyObject *req_get_interpreter(mp_request_object *self, void *closure)
{
    (void)closure;
    Py_INCREF(self->interpreter);
    return self->interpreter;
}

static PyObject *req_get_allowed_xmethods(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return NULL;
    return mp_str_array_tuple(self->r->allowed_xmethods);
}

/* Names of the standard methods by number: ap_method_name_of() may answer
 * "HEAD" for M_GET, both being registered under that number. */
static const char *method_name(apr_pool_t *p, int m)
{
    static const struct {
        int num;
        const char *name;
    } known[] = {
        {M_GET, "GET"}, {M_PUT, "PUT"}, {M_POST, "POST"}, {M_DELETE, "DELETE"},
        {M_CONNECT, "CONNECT"}, {M_OPTIONS, "OPTIONS"}, {M_TRACE, "TRACE"},
        {M_PATCH, "PATCH"}, {M_PROPFIND, "PROPFIND"}, {M_PROPPATCH, "PROPPATCH"},
        {M_MKCOL, "MKCOL"}, {M_COPY, "COPY"}, {M_MOVE, "MOVE"}, {M_LOCK, "LOCK"},
        {M_UNLOCK, "UNLOCK"}, {M_VERSION_CONTROL, "VERSION-CONTROL"},
        {M_CHECKOUT, "CHECKOUT"}, {M_UNCHECKOUT, "UNCHECKOUT"}, {M_CHECKIN, "CHECKIN"},
        {M_UPDATE, "UPDATE"}, {M_LABEL, "LABEL"}, {M_REPORT, "REPORT"},
        {M_MKWORKSPACE, "MKWORKSPACE"}, {M_MKACTIVITY, "MKACTIVITY"},
        {M_BASELINE_CONTROL, "BASELINE-CONTROL"}, {M_MERGE, "MERGE"},
    };
    size_t i;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i].num == m)
            return known[i].name;
    return ap_method_name_of(p, m);
}

static PyObject *req_get_allowed_methods(mp_request_object *self, void *closure)
{
    const ap_method_list_t *ml;
    PyObject *out;
    int m;
    (void)closure;
    if (!req_usable(self))
        return NULL;
    ml = self->r->allowed_methods;
    out = PyList_New(0);
    for (m = 0; out && ml && m < METHODS; m++) {
        const char *mname;
        if ((ml->method_mask & (AP_METHOD_BIT << m))
            && (mname = method_name(self->r->pool, m)) != NULL) {
            PyObject *name = mp_str_or_none(mname);
            if (!name || PyList_Append(out, name) < 0)
                Py_CLEAR(out);
            Py_XDECREF(name);
        }
    }
    if (out && ml && ml->method_list) {
        PyObject *extra = mp_str_array_tuple(ml->method_list);
        PyObject *all = extra ? PySequence_InPlaceConcat(out, extra) : NULL;
        Py_XDECREF(extra);
        Py_SETREF(out, all);
    }
    if (!out)
        return NULL;
    Py_SETREF(out, PyList_AsTuple(out));
    return out;
}

static PyObject *req_get_content_languages(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return NULL;
    return mp_str_array_tuple(self->r->content_languages);
}

static int req_set_content_languages(mp_request_object *self, PyObject *v, void *closure)
{
    apr_array_header_t *arr;
    PyObject *seq;
    Py_ssize_t i;
    (void)closure;
    if (!req_usable(self))
        return -1;
    if (!v || v == Py_None) {
        self->r->content_languages = NULL;
        return 0;
    }
    if (PyUnicode_Check(v) || !(seq = PySequence_Fast(v, "content_languages must be a "
                                                         "sequence of str"))) {
        if (PyUnicode_Check(v))
            PyErr_SetString(PyExc_TypeError, "content_languages must be a sequence of str");
        return -1;
    }
    arr = apr_array_make(self->r->pool, (int)PySequence_Fast_GET_SIZE(seq), sizeof(char *));
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        const char *lang = mp_latin1_copy(self->r->pool, PySequence_Fast_GET_ITEM(seq, i),
                                          "content language");
        if (!lang) {
            Py_DECREF(seq);
            return -1;
        }
        APR_ARRAY_PUSH(arr, const char *) = lang;
    }
    Py_DECREF(seq);
    self->r->content_languages = arr;
    return 0;
}

static PyObject *req_get_finfo(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return NULL;
    return mp_finfo_wrap(PyType_GetModuleState(Py_TYPE(self)), &self->r->finfo);
}

static int req_set_finfo(mp_request_object *self, PyObject *v, void *closure)
{
    (void)closure;
    if (!req_usable(self))
        return -1;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "finfo cannot be deleted");
        return -1;
    }
    return mp_finfo_copy_to(PyType_GetModuleState(Py_TYPE(self)), v, &self->r->finfo,
                            self->r->pool);
}

static PyObject *req_get_parsed_uri(mp_request_object *self, void *closure)
{
    const apr_uri_t *u;
    PyObject *port;
    (void)closure;
    if (!req_usable(self))
        return NULL;
    u = &self->r->parsed_uri;
    if (u->port_str)
        port = PyLong_FromLong(u->port);
    else
        port = Py_NewRef(Py_None);
    return Py_BuildValue("(NNNNNNNNN)", mp_str_or_none(u->scheme), mp_str_or_none(u->hostinfo),
                         mp_str_or_none(u->user), mp_str_or_none(u->password),
                         mp_str_or_none(u->hostname), port, mp_str_or_none(u->path),
                         mp_str_or_none(u->query), mp_str_or_none(u->fragment));
}

/* req.next / prev / main: the request object of that request_rec, same interpreter. */
static PyObject *related_request(mp_request_object *self, request_rec *other)
{
    PyObject *o;
    if (!other || !self->interp)
        Py_RETURN_NONE;
    o = mp_request_object_for(other, self->interp);
    Py_XINCREF(o);
    return o;
}

static PyObject *req_get_next(mp_request_object *self, void *closure)
{
    (void)closure;
    return req_usable(self) ? related_request(self, self->r->next) : NULL;
}

static PyObject *req_get_prev(mp_request_object *self, void *closure)
{
    (void)closure;
    return req_usable(self) ? related_request(self, self->r->prev) : NULL;
}

static PyObject *req_get_main(mp_request_object *self, void *closure)
{
    (void)closure;
    return req_usable(self) ? related_request(self, self->r->main) : NULL;
}

static PyObject *req_get_hlist(mp_request_object *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->hlist ? self->hlist : Py_None);
}

static int req_set_hlist(mp_request_object *self, PyObject *v, void *closure)
{
    (void)closure;
    Py_XINCREF(v);
    Py_XSETREF(self->hlist, v);
    return 0;
}

static PyObject *req_get_dynamic(mp_request_object *self, void *closure)
{
    (void)closure;
    if (!self->dynamic && !(self->dynamic = PyDict_New()))
        return NULL;
    return Py_NewRef(self->dynamic);
}

#define RO(name, type, field, doc) \
    MP_MEMBER_RO(request_rec, name, type, field, req_get_member, doc)
#define RW(name, type, field, doc) \
    MP_MEMBER_RW(request_rec, name, type, field, req_get_member, req_set_member, doc)

static PyGetSetDef req_getset[] = {
    RO("the_request", MP_M_STR, the_request, "the first line of the request"),
    RW("assbackwards", MP_M_BOOL, assbackwards, "an HTTP/0.9 request: no headers are sent"),
    RW("proxyreq", MP_M_INT, proxyreq, "one of apache.PROXYREQ_*"),
    RO("header_only", MP_M_BOOL, header_only, "True for a HEAD request"),
    RO("protocol", MP_M_STR, protocol, "the protocol, e.g. 'HTTP/1.1'"),
    RO("proto_num", MP_M_INT, proto_num, "the protocol version as a number: 1.1 = 1001"),
    RO("hostname", MP_M_STR, hostname, "the host, from the URI or the Host header"),
    RO("request_time", MP_M_TIME, request_time, "when the request started (seconds)"),
    RO("status_line", MP_M_STR, status_line, "the status line, e.g. '200 OK'"),
    RW("status", MP_M_INT, status, "the HTTP status, one of apache.HTTP_*"),
    RO("method", MP_M_STR, method, "the method: 'GET', 'POST', ..."),
    RO("method_number", MP_M_INT, method_number, "the method as one of apache.M_*"),
    RW("allowed", MP_M_INT64, allowed, "bit vector of allowed methods (1 << M_*)"),
    RO("sent_bodyct", MP_M_OFF, sent_bodyct, "non-zero once the body is being sent"),
    RO("bytes_sent", MP_M_OFF, bytes_sent, "the number of body bytes sent"),
    RO("mtime", MP_M_TIME, mtime, "when the resource was last modified (seconds)"),
    RO("chunked", MP_M_BOOL, chunked, "True when the response is chunked"),
    RO("range", MP_M_STR, range, "the Range header"),
    RO("clength", MP_M_OFF, clength, "the real content length"),
    RO("remaining", MP_M_OFF, remaining, "bytes of the body left to read"),
    RO("read_length", MP_M_OFF, read_length, "bytes of the body read"),
    RO("read_body", MP_M_INT, read_body, "how the body is read (REQUEST_*)"),
    RO("read_chunked", MP_M_BOOL, read_chunked, "True when the body is chunked"),
    RO("expecting_100", MP_M_UINT, expecting_100, "the client waits for 100 Continue"),
    RW("handler", MP_M_STR, handler, "the content handler's name, e.g. 'mod_python'"),
    RO("content_encoding", MP_M_STR, content_encoding, "the content encoding"),
    RO("vlist_validator", MP_M_STR, vlist_validator, "the variant list validator"),
    RW("user", MP_M_STR, user, "the authenticated user (after get_basic_auth_pw())"),
    RW("ap_auth_type", MP_M_STR, ap_auth_type, "the authentication type, e.g. 'Basic'"),
    RW("no_cache", MP_M_BOOL, no_cache, "the response must not be cached"),
    RW("no_local_copy", MP_M_BOOL, no_local_copy, "no local copy exists"),
    RO("unparsed_uri", MP_M_STR, unparsed_uri, "the URI as the client sent it"),
    RW("uri", MP_M_STR, uri, "the path part of the URI"),
    RW("filename", MP_M_PATH, filename, "the file the request maps to"),
    RW("canonical_filename", MP_M_PATH, canonical_filename, "the true file name"),
    RW("path_info", MP_M_STR, path_info, "what follows the file name in the path"),
    RW("args", MP_M_STR, args, "the query string"),
    RW("used_path_info", MP_M_INT, used_path_info, "accept or reject path_info (AP_REQ_*)"),
    RO("eos_sent", MP_M_BOOL, eos_sent, "True once the end of the response was sent"),
    {"content_type", (getter)req_get_content_type, (setter)req_set_content_type,
     "the content type of the response", NULL},
    {"_content_type_set", (getter)req_get_content_type_set, (setter)req_set_content_type_set,
     "True once a handler set content_type", NULL},
    {"headers_in", (getter)req_get_headers_in, NULL, "the request headers", NULL},
    {"headers_out", (getter)req_get_headers_out, NULL, "the response headers", NULL},
    {"err_headers_out", (getter)req_get_err_headers_out, NULL,
     "response headers sent with error responses too", NULL},
    {"subprocess_env", (getter)req_get_subprocess_env, NULL, "the CGI environment", NULL},
    {"notes", (getter)req_get_notes, NULL, "notes that live as long as the request", NULL},
    {"server", (getter)req_get_server, NULL, "the server object", NULL},
    {"connection", (getter)req_get_connection, NULL, "the connection object", NULL},
    {"phase", (getter)req_get_phase, NULL, "the phase being run, e.g. 'PythonHandler'", NULL},
    {"interpreter", (getter)req_get_interpreter, NULL, "the interpreter's name", NULL},
    {"allowed_xmethods", (getter)req_get_allowed_xmethods, NULL,
     "allowed extension methods, a tuple", NULL},
    {"allowed_methods", (getter)req_get_allowed_methods, NULL,
     "allowed methods (see allow_methods()), a tuple of names", NULL},
    {"content_languages", (getter)req_get_content_languages,
     (setter)req_set_content_languages, "the content languages, a tuple of str", NULL},
    {"finfo", (getter)req_get_finfo, (setter)req_set_finfo,
     "file information of req.filename; assign an apache.stat() result", NULL},
    {"parsed_uri", (getter)req_get_parsed_uri, NULL,
     "(scheme, hostinfo, user, password, hostname, port, path, query, fragment)", NULL},
    {"next", (getter)req_get_next, NULL, "the request redirected to, or None", NULL},
    {"prev", (getter)req_get_prev, NULL, "the request redirected from, or None", NULL},
    {"main", (getter)req_get_main, NULL, "the main request of a subrequest, or None", NULL},
    {"hlist", (getter)req_get_hlist, (setter)req_set_hlist,
     "the handler entry being run (handler, directory, silent, is_location, location)", NULL},
    {"_mp_dynamic", (getter)req_get_dynamic, NULL,
     "handlers added with add_handler(), by phase (for the dispatcher)", NULL},
    {NULL}
};

static PyMemberDef req_members[] = {
    {"__dictoffset__", MP_T_PYSSIZET, offsetof(mp_request_object, dict), MP_READONLY, NULL},
    {NULL}
};

static PyType_Slot req_slots[] = {
    {Py_tp_doc, "the request object (manual 4.5.4)"},
    {Py_tp_dealloc, req_dealloc},
    {Py_tp_traverse, req_traverse},
    {Py_tp_clear, req_clear},
    {Py_tp_methods, req_methods},
    {Py_tp_getset, req_getset},
    {Py_tp_members, req_members},
    {0, NULL}
};

PyType_Spec mp_request_spec = {
    .name = "mod_python.apache.request",
    .basicsize = sizeof(mp_request_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = req_slots,
};
