/*
 * filters.c -- Python input and output filters (manual 4.3, 5.2, and the
 * filter methods of the request object, 4.5.4).
 *
 * PythonInputFilter / PythonOutputFilter register an Apache filter of
 * AP_FTYPE_RESOURCE under the given name; whatever adds that filter
 * (AddOutputFilter, SetInputFilter, req.add_output_filter(), ...) makes
 * Apache call mp_output_filter / mp_input_filter below, which find the
 * handler by the filter's name in the request's server configuration.
 * req.register_*_filter() defines a filter for one request only: it is
 * added as one of two generic filters (MOD_PYTHON_DYNAMIC_IN/OUT) that
 * carry their definition in the filter's context.
 *
 * Every call of a filter calls mod_python.apache._dispatch_filter(filter,
 * directory) in the request's interpreter with the filter object of that
 * filter instance.  What the handler leaves alone goes on unchanged:
 *
 * - data of the call it did not read is passed on after what it wrote
 *   (a handler that reads nothing lets the data through);
 * - when read() returned None and the handler did not close the filter,
 *   it is closed for it, so the end of the stream always goes on;
 * - after close(), later data is dropped; after disable(), later calls
 *   pass data on without calling the handler.
 *
 * When the handler raises, the traceback is logged and the filter fails
 * for the rest of the request: an output filter turns a response that has
 * not started into a 500 and cuts one that has (the client sees it
 * incomplete, the connection closes); an input filter makes the reader's
 * read fail (req.read() raises OSError).
 */
#include "mp_filter.h"
#include "mp_config.h"
#include "mp_dispatch.h"

#define MP_DYNAMIC_IN "MOD_PYTHON_DYNAMIC_IN"
#define MP_DYNAMIC_OUT "MOD_PYTHON_DYNAMIC_OUT"
#define MP_GATE "MOD_PYTHON_GATE"
#define MP_REGISTRY_KEY "mod_python:dynamic_filters"

/* Registered once per configuration read, from register_hooks; C data only. */
static ap_filter_rec_t *dynamic_in, *dynamic_out, *gate;

static apr_status_t mp_output_filter(ap_filter_t *f, apr_bucket_brigade *bb);
static apr_status_t mp_input_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                    ap_input_mode_t mode, apr_read_type_e block,
                                    apr_off_t readbytes);

/*
 * The gate closes a response whose output filter failed.  It sits after
 * the protocol filters that make the headers (HTTP_HEADER) and before the
 * transfer coding (CHUNK): it lets the error response through up to its
 * end of stream, or nothing when the response had started already, and
 * drops whatever comes after, so no later output of the handler (nor its
 * own error page) reaches the client.
 */
typedef struct {
    int open_until_eos;
} mp_gate;

static apr_status_t gate_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    mp_gate *g = f->ctx;
    apr_bucket *e;

    if (!g)                     /* added by hand (SetOutputFilter): out of the way */
        return ap_pass_brigade(f->next, bb);
    if (g->open_until_eos) {
        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_EOS(e)) {
                g->open_until_eos = 0;
                if (APR_BUCKET_NEXT(e) != APR_BRIGADE_SENTINEL(bb))
                    apr_brigade_cleanup(apr_brigade_split(bb, APR_BUCKET_NEXT(e)));
                break;
            }
        }
        return ap_pass_brigade(f->next, bb);
    }
    apr_brigade_cleanup(bb);
    return AP_FILTER_ERROR;
}

static const char *kind(int is_input)
{
    return is_input ? "PythonInputFilter" : "PythonOutputFilter";
}

static char *lower_copy(apr_pool_t *p, const char *s)
{
    char *k = apr_pstrdup(p, s);
    ap_str_tolower(k);
    return k;
}

/* ---------------------------------------------------------------- directives */

static const char *cmd_filter(cmd_parms *cmd, const char *handler, const char *name,
                              int is_input)
{
    mp_srv_config *conf = mp_srv_conf(cmd->server);
    ap_filter_rec_t *frec;
    mp_named_handler *h;

    const char *sep = strstr(handler, "::");

    if (!*handler || !*name || sep == handler)
        return apr_pstrcat(cmd->pool, kind(is_input), " needs a handler (a module name or the "
                           "absolute path of a module file, optionally followed by ::callable) "
                           "and a filter name", NULL);
    if (sep && !sep[2])
        return apr_pstrcat(cmd->pool, kind(is_input), " ", handler, ": nothing follows '::' "
                           "(name the callable, or leave '::' out for ",
                           is_input ? "inputfilter" : "outputfilter", ")", NULL);
    if (handler[0] != '/' && strchr(handler, '/') && (!sep || strchr(handler, '/') < sep))
        return apr_pstrcat(cmd->pool, kind(is_input), " ", handler, ": a module file must be "
                           "given by its absolute path; a module on sys.path by its dotted "
                           "name", NULL);
    if (strcasecmp(name, MP_DYNAMIC_IN) == 0 || strcasecmp(name, MP_DYNAMIC_OUT) == 0)
        return apr_pstrcat(cmd->pool, kind(is_input), ": the name ", name,
                           " is reserved by mod_python", NULL);
    frec = is_input ? ap_get_input_filter_handle(name) : ap_get_output_filter_handle(name);
    if (frec && (is_input ? frec->filter_func.in_func != mp_input_filter
                          : frec->filter_func.out_func != mp_output_filter))
        return apr_pstrcat(cmd->pool, kind(is_input), ": ", name, " is already the name of ",
                           is_input ? "an input" : "an output",
                           " filter of another Apache module", NULL);

    h = apr_pcalloc(cmd->pool, sizeof(*h));
    h->spec = handler;
    h->name = name;
    h->directory = NULL;    /* server config: the module comes from sys.path or a path */
    apr_hash_set(is_input ? conf->input_filters : conf->output_filters,
                 lower_copy(cmd->pool, name), APR_HASH_KEY_STRING, h);
    if (is_input)
        ap_register_input_filter(name, mp_input_filter, NULL, AP_FTYPE_RESOURCE);
    else
        ap_register_output_filter(name, mp_output_filter, NULL, AP_FTYPE_RESOURCE);
    return NULL;
}

const char *mp_cmd_input_filter(cmd_parms *cmd, void *mconfig, const char *handler,
                                const char *name)
{
    (void)mconfig;
    return cmd_filter(cmd, handler, name, 1);
}

const char *mp_cmd_output_filter(cmd_parms *cmd, void *mconfig, const char *handler,
                                 const char *name)
{
    (void)mconfig;
    return cmd_filter(cmd, handler, name, 0);
}

void mp_filters_register_hooks(apr_pool_t *p)
{
    (void)p;
    dynamic_in = ap_register_input_filter(MP_DYNAMIC_IN, mp_input_filter, NULL,
                                          AP_FTYPE_RESOURCE);
    dynamic_out = ap_register_output_filter(MP_DYNAMIC_OUT, mp_output_filter, NULL,
                                            AP_FTYPE_RESOURCE);
    gate = ap_register_output_filter(MP_GATE, gate_filter, NULL, AP_FTYPE_PROTOCOL);
}

/* ---------------------------------------------------------------- per filter state */

/* The definition of a filter named by a directive, as the request's server sees it. */
static const mp_filter_def *configured_def(request_rec *r, const char *frec_name, int is_input)
{
    const mp_srv_config *conf = mp_srv_conf(r->server);
    const mp_named_handler *h;
    mp_filter_def *def;

    h = apr_hash_get(is_input ? conf->input_filters : conf->output_filters,
                     lower_copy(r->pool, frec_name), APR_HASH_KEY_STRING);
    if (!h)
        return NULL;
    def = apr_pcalloc(r->pool, sizeof(*def));
    def->name = h->name;
    def->handler = h->spec;
    def->directory = h->directory;
    def->interpreter = NULL;
    def->is_input = is_input;
    return def;
}

/* Set up f->ctx on the first call; NULL (logged) when the filter has no definition. */
static mp_filter_ctx *filter_ctx(ap_filter_t *f, int is_input)
{
    request_rec *r = f->r;
    mp_filter_ctx *ctx = f->ctx;

    if (ctx && ctx->f)
        return ctx;
    if (!ctx) {
        const mp_filter_def *def = configured_def(r, f->frec->name, is_input);
        ctx = apr_pcalloc(r->pool, sizeof(*ctx));
        f->ctx = ctx;
        ctx->f = f;
        ctx->r = r;
        if (!def) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_python: %s: no %s named '%s' is configured for server %s",
                          r->uri, kind(is_input), f->frec->name,
                          r->server->server_hostname ? r->server->server_hostname : "(none)");
            ctx->failed = 1;
            return ctx;
        }
        ctx->def = def;
    }
    ctx->f = f;
    ctx->r = r;
    /* a dynamic filter runs where it was registered; a configured one where the
       request's handlers run (its directive has no directory to name one by) */
    ctx->interp_name = ctx->def->interpreter ? ctx->def->interpreter
                                             : mp_request_interpreter(r);
    ctx->bb_in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ctx->bb_out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return ctx;
}

/* With the request pool: drop the Python objects, in their interpreter. */
static apr_status_t ctx_cleanup(void *data)
{
    mp_filter_ctx *ctx = data;
    mp_interp *in;

    if (!ctx->obj && !ctx->dispatch)
        return APR_SUCCESS;
    if (!mp_python_ready() || !(in = mp_acquire(ctx->interp_name, ctx->r->server)))
        return APR_SUCCESS;
    mp_filter_object_invalidate(ctx->obj);
    Py_CLEAR(ctx->obj);
    Py_CLEAR(ctx->dispatch);
    mp_release(in);
    return APR_SUCCESS;
}

static const char *what(mp_filter_ctx *ctx)
{
    return apr_psprintf(ctx->r->pool, "%s %s", kind(ctx->def->is_input), ctx->def->name);
}

/* Call the handler once; 0 when it returned, -1 when it failed (logged). */
static int call_python(mp_filter_ctx *ctx)
{
    request_rec *r = ctx->r;
    PyObject *res = NULL, *dir = NULL;
    mp_interp *in;
    long status;

    in = mp_acquire(ctx->interp_name, r->server);
    if (!in) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: no Python interpreter for %s (see earlier errors)",
                      what(ctx));
        return -1;
    }
    if (!in->dispatch || !in->c_module) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: mod_python.apache could not be loaded into interpreter '%s' "
                      "(see earlier errors)", in->name);
        mp_release(in);
        return -1;
    }
    if (!ctx->obj) {
        PyObject *req = mp_request_object_for(r, in);
        if (!req || !(ctx->obj = mp_filter_object_new(in->c_module, ctx, req)))
            goto error;
        /* registered after the request object's own cleanup: runs before it */
        apr_pool_cleanup_register(r->pool, ctx, ctx_cleanup, apr_pool_cleanup_null);
    }
    if (!ctx->dispatch) {
        PyObject *apache = PyImport_ImportModule("mod_python.apache");
        if (!apache)
            goto error;
        ctx->dispatch = PyObject_GetAttrString(apache, "_dispatch_filter");
        Py_DECREF(apache);
        if (!ctx->dispatch)
            goto error;
    }
    if (!(dir = mp_path_or_none(ctx->def->directory)))
        goto error;
    ctx->in_call = 1;
    ctx->fetched = ctx->eagain = 0;
    res = PyObject_CallFunctionObjArgs(ctx->dispatch, ctx->obj, dir,
                                       ctx->def->callable ? ctx->def->callable : Py_None,
                                       NULL);
    ctx->in_call = 0;
    Py_DECREF(dir);
    if (!res)
        goto error;
    status = PyLong_AsLong(res);
    Py_DECREF(res);
    if (status == -1 && PyErr_Occurred())
        goto error;
    mp_release(in);
    return status == OK ? 0 : -1;   /* _dispatch_filter logged the traceback */
error:
    mp_log_exception(r->server, r, what(ctx));
    mp_release(in);
    return -1;
}

/* Apache called the filter again from inside its own handler: refuse, logged. */
static int reentered(mp_filter_ctx *ctx)
{
    if (!ctx->in_call)
        return 0;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ctx->r,
                  "mod_python: %s %s was called again while it runs: a filter reads and "
                  "writes through its filter object, not with req.read() or req.write()",
                  kind(ctx->def->is_input), ctx->def->name);
    return 1;
}

/* ---------------------------------------------------------------- output filters */

/* Pass bb_out to the next filter; the first error sticks. */
static apr_status_t pass_down(mp_filter_ctx *ctx)
{
    apr_status_t rv;
    if (ctx->down_rv != APR_SUCCESS) {
        apr_brigade_cleanup(ctx->bb_out);
        return ctx->down_rv;
    }
    if (APR_BRIGADE_EMPTY(ctx->bb_out))
        return APR_SUCCESS;
    rv = ap_pass_brigade(ctx->f->next, ctx->bb_out);
    apr_brigade_cleanup(ctx->bb_out);
    ctx->out_bytes = 0;
    if (rv != APR_SUCCESS)
        ctx->down_rv = rv;
    return rv;
}

apr_status_t mp_filter_pass_down(mp_filter_ctx *ctx)
{
    apr_status_t rv;
    ctx->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rv = pass_down(ctx);
    Py_END_ALLOW_THREADS
    ctx->busy = 0;
    return rv;
}

/*
 * The handler failed (logged already).  A response not started yet becomes
 * a 500: the HTTP_HEADER filter turns the error bucket into ap_die().  A
 * response under way is cut: its end never goes out (for a chunked one the
 * last chunk is missing) and the connection closes, so the client sees it
 * broken.  The gate keeps anything later off the wire, and the caller
 * (the handler's write) gets AP_FILTER_ERROR.
 */
static apr_status_t output_failed(mp_filter_ctx *ctx)
{
    request_rec *r = ctx->r;
    conn_rec *c = r->connection;
    int started = r->sent_bodyct;
    mp_gate *g;

    ctx->failed = 1;
    if (ctx->bb_in)
        apr_brigade_cleanup(ctx->bb_in);
    if (ctx->bb_out)
        apr_brigade_cleanup(ctx->bb_out);
    else
        ctx->bb_out = apr_brigade_create(r->pool, c->bucket_alloc);
    c->keepalive = AP_CONN_CLOSE;
    if (ctx->down_rv != APR_SUCCESS || c->aborted || r->main || !gate)
        return AP_FILTER_ERROR;
    ctx->closed = 1;
    g = apr_pcalloc(r->pool, sizeof(*g));
    g->open_until_eos = !started;
    if (!ap_add_output_filter_handle(gate, g, r, c))
        return AP_FILTER_ERROR;
    if (!started) {
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out,
                                ap_bucket_error_create(HTTP_INTERNAL_SERVER_ERROR, NULL,
                                                       r->pool, c->bucket_alloc));
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, apr_bucket_eos_create(c->bucket_alloc));
        (void)ap_pass_brigade(ctx->f->next, ctx->bb_out);
        apr_brigade_cleanup(ctx->bb_out);
    }
    return AP_FILTER_ERROR;
}

static apr_status_t mp_output_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    mp_filter_ctx *ctx;

    if (!f->r)
        return ap_pass_brigade(f->next, bb);
    ctx = filter_ctx(f, 0);
    if (ctx->failed) {
        apr_brigade_cleanup(bb);
        return ctx->bb_out ? AP_FILTER_ERROR : output_failed(ctx);
    }
    if (reentered(ctx)) {
        apr_brigade_cleanup(bb);
        return APR_EGENERAL;
    }
    if (ctx->closed) {          /* after the end: nothing more goes out */
        apr_brigade_cleanup(bb);
        return ctx->down_rv;
    }
    if (ctx->disabled)
        return ap_pass_brigade(f->next, bb);
    if (APR_BRIGADE_EMPTY(bb))
        return APR_SUCCESS;
    if (!ctx->started) {
        /* the handler may change the length: let Apache count it again */
        ctx->started = 1;
        apr_table_unset(f->r->headers_out, "Content-Length");
    }

    ctx->bb_in = bb;
    if (call_python(ctx) < 0) {
        apr_status_t rv = output_failed(ctx);
        ctx->bb_in = NULL;
        return rv;
    }
    if (!ctx->closed) {
        /* what the handler did not read goes on after what it wrote */
        while (!APR_BRIGADE_EMPTY(bb)) {
            apr_bucket *b = APR_BRIGADE_FIRST(bb);
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(ctx->bb_out, b);
            if (APR_BUCKET_IS_EOS(b)) {
                ctx->closed = 1;
                break;
            }
        }
        if (!ctx->closed && ctx->eos_in) {
            /* read() returned None but the handler did not close(): close for it */
            ctx->closed = 1;
            APR_BRIGADE_INSERT_TAIL(ctx->bb_out, apr_bucket_eos_create(f->c->bucket_alloc));
        }
    }
    apr_brigade_cleanup(bb);
    ctx->bb_in = NULL;
    return pass_down(ctx);
}

/* ---------------------------------------------------------------- input filters */

/* Take one bucket of what waits for the reader: moved, or copied (speculative). */
static void give(apr_bucket_brigade *bb, apr_bucket *b, int copy)
{
    if (copy) {
        apr_bucket *c;
        if (apr_bucket_copy(b, &c) == APR_SUCCESS)
            APR_BRIGADE_INSERT_TAIL(bb, c);
        return;
    }
    APR_BUCKET_REMOVE(b);
    APR_BRIGADE_INSERT_TAIL(bb, b);
}

/*
 * Give the reader what it asked for from what the handler wrote: at most
 * readbytes (READBYTES, SPECULATIVE, which leaves it in place), one line
 * (GETLINE), or everything up to the end (EXHAUSTIVE).  1 if bb got data
 * or the end of stream, 0 if there is nothing to give yet, -1 on error.
 */
static int serve(mp_filter_ctx *ctx, apr_bucket_brigade *bb, ap_input_mode_t mode,
                 apr_off_t readbytes)
{
    apr_bucket_brigade *pending = ctx->bb_out;
    apr_size_t want = readbytes > 0 ? (apr_size_t)readbytes : (apr_size_t)-1, given = 0;
    int copy = mode == AP_MODE_SPECULATIVE, got = 0;
    apr_bucket *b, *next;

    if (APR_BRIGADE_EMPTY(pending))
        return 0;
    if (mode == AP_MODE_EXHAUSTIVE) {
        if (!APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(pending)))
            return 0;
        APR_BRIGADE_CONCAT(bb, pending);
        return 1;
    }
    for (b = APR_BRIGADE_FIRST(pending); b != APR_BRIGADE_SENTINEL(pending); b = next) {
        const char *data = NULL, *nl = NULL;
        apr_size_t len;
        next = APR_BUCKET_NEXT(b);
        if (APR_BUCKET_IS_EOS(b)) {
            give(bb, b, copy);
            return 1;
        }
        if (given >= want)
            break;
        if (b->length == (apr_size_t)-1 || mode == AP_MODE_GETLINE) {
            if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS)
                return -1;
        }
        len = b->length;
        if (len == 0) {         /* an empty bucket would read as the end of the body */
            if (!copy)
                apr_bucket_delete(b);
            continue;
        }
        if (mode == AP_MODE_GETLINE && (nl = memchr(data, '\n', len)) != NULL)
            len = (apr_size_t)(nl - data) + 1;
        if (len > want - given)
            len = want - given;
        if (len < b->length) {
            if (apr_bucket_split(b, len) != APR_SUCCESS)
                return -1;
            next = APR_BUCKET_NEXT(b);
        }
        give(bb, b, copy);
        given += len;
        got = 1;
        if (nl)
            break;
    }
    /* an end of stream right behind the data goes up with it */
    if (got && !copy && !APR_BRIGADE_EMPTY(pending)
        && APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(pending)))
        give(bb, APR_BRIGADE_FIRST(pending), 0);
    return got;
}

/* After a call: what the handler did not read waits for the reader too. */
static void input_call_done(mp_filter_ctx *ctx)
{
    while (!ctx->closed && !APR_BRIGADE_EMPTY(ctx->bb_in)) {
        apr_bucket *b = APR_BRIGADE_FIRST(ctx->bb_in);
        APR_BUCKET_REMOVE(b);
        if (APR_BUCKET_IS_METADATA(b) && !APR_BUCKET_IS_EOS(b)) {
            apr_bucket_destroy(b);
            continue;
        }
        (void)apr_bucket_setaside(b, ctx->r->pool);
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, b);
        if (APR_BUCKET_IS_EOS(b))
            ctx->closed = 1;
    }
    apr_brigade_cleanup(ctx->bb_in);
    if (!ctx->closed && ctx->eos_in) {
        ctx->closed = 1;
        APR_BRIGADE_INSERT_TAIL(ctx->bb_out, apr_bucket_eos_create(ctx->f->c->bucket_alloc));
    }
}

static apr_status_t mp_input_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                    ap_input_mode_t mode, apr_read_type_e block,
                                    apr_off_t readbytes)
{
    mp_filter_ctx *ctx;
    int rc;

    /* connection-level modes are none of a request filter's business */
    if (!f->r || mode == AP_MODE_EATCRLF || mode == AP_MODE_INIT)
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    ctx = filter_ctx(f, 1);
    if (ctx->failed || reentered(ctx))
        return APR_EGENERAL;
    for (;;) {
        if ((rc = serve(ctx, bb, mode, readbytes)) != 0)
            return rc > 0 ? APR_SUCCESS : APR_EGENERAL;
        if (ctx->closed) {      /* the end was given already: it stays the end */
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
            return APR_SUCCESS;
        }
        if (ctx->disabled)
            return ap_get_brigade(f->next, bb, mode, block, readbytes);
        if (ctx->up_rv != APR_SUCCESS)
            return ctx->up_rv;
        ctx->mode = mode;
        ctx->block = block;
        ctx->readbytes = readbytes;
        if (call_python(ctx) < 0) {
            ctx->failed = 1;
            apr_brigade_cleanup(ctx->bb_in);
            apr_brigade_cleanup(ctx->bb_out);
            f->r->connection->keepalive = AP_CONN_CLOSE;
            return APR_EGENERAL;
        }
        input_call_done(ctx);
        if (!ctx->fetched && APR_BRIGADE_EMPTY(ctx->bb_out) && !ctx->closed && !ctx->disabled)
            /* the handler took no part in this call: the data passes as it is */
            return ap_get_brigade(f->next, bb, mode, block, readbytes);
        if (ctx->eagain && APR_BRIGADE_EMPTY(ctx->bb_out))
            return APR_EAGAIN;
        /* it read but wrote nothing yet (it may be collecting): call it again */
    }
}

/* ---------------------------------------------------------------- request methods */

typedef struct {
    apr_hash_t *defs[2];        /* [is_input]: lower-case name -> mp_filter_def */
} mp_registry;

static mp_registry *registry(request_rec *r, int create)
{
    void *v = NULL;
    mp_registry *reg;
    if (apr_pool_userdata_get(&v, MP_REGISTRY_KEY, r->pool) == APR_SUCCESS && v)
        return v;
    if (!create)
        return NULL;
    reg = apr_pcalloc(r->pool, sizeof(*reg));
    reg->defs[0] = apr_hash_make(r->pool);
    reg->defs[1] = apr_hash_make(r->pool);
    if (apr_pool_userdata_setn(reg, MP_REGISTRY_KEY, NULL, r->pool) != APR_SUCCESS)
        return NULL;
    return reg;
}

/* The directory of the handler making the registration (req.hlist.directory), or NULL. */
static const char *handler_directory(request_rec *r, PyObject *hlist)
{
    PyObject *d;
    const char *res = NULL;
    if (!hlist || hlist == Py_None)
        return NULL;
    d = PyObject_GetAttrString(hlist, "directory");
    if (d && PyUnicode_Check(d))
        res = mp_path_copy(r->pool, d, "directory");
    Py_XDECREF(d);
    PyErr_Clear();
    return res;
}

/* With the request pool: drop a registered callable, in its interpreter. */
static apr_status_t def_cleanup(void *data)
{
    mp_filter_def *def = data;
    mp_interp *in;
    if (!def->callable || !mp_python_ready()
        || !(in = mp_acquire(def->interpreter, ap_server_conf)))
        return APR_SUCCESS;
    Py_CLEAR(def->callable);
    mp_release(in);
    return APR_SUCCESS;
}

PyObject *mp_filter_register(request_rec *r, int is_input, PyObject *args,
                             PyObject *interpreter, PyObject *hlist)
{
    const char *method = is_input ? "register_input_filter" : "register_output_filter";
    PyObject *name_o, *handler_o, *dir_o = Py_None;
    mp_filter_def *def;
    mp_registry *reg;
    const char *interp;

    if (!PyArg_ParseTuple(args, is_input ? "UO|O:register_input_filter"
                                         : "UO|O:register_output_filter",
                          &name_o, &handler_o, &dir_o))
        return NULL;
    if (!PyUnicode_Check(handler_o) && !PyCallable_Check(handler_o))
        return PyErr_Format(PyExc_TypeError,
                            "%s(): filter must be a str naming the handler, "
                            "'module' or 'module::callable', or a callable, not %.100s",
                            method, Py_TYPE(handler_o)->tp_name);
    if (dir_o != Py_None && !PyUnicode_Check(dir_o))
        return PyErr_Format(PyExc_TypeError, "%s(): dir must be a str or None, not %.100s",
                            method, Py_TYPE(dir_o)->tp_name);
    def = apr_pcalloc(r->pool, sizeof(*def));
    if (!(def->name = mp_latin1_copy(r->pool, name_o, "filter name")))
        return NULL;
    if (PyUnicode_Check(handler_o)
        && !(def->handler = mp_path_copy(r->pool, handler_o, "filter")))
        return NULL;
    if (!*def->name || (def->handler && !*def->handler))
        return PyErr_Format(PyExc_ValueError, "%s(): the filter name and the handler "
                            "must not be empty", method);
    if (dir_o != Py_None) {
        if (!(def->directory = mp_path_copy(r->pool, dir_o, "dir")))
            return NULL;
    }
    else {
        def->directory = handler_directory(r, hlist);
    }
    if (!(interp = PyUnicode_AsUTF8(interpreter)))
        return NULL;
    def->interpreter = apr_pstrdup(r->pool, interp);
    def->is_input = is_input;
    if (!(reg = registry(r, 1)))
        return PyErr_NoMemory();
    if (!def->handler) {
        def->handler = "";
        def->callable = Py_NewRef(handler_o);
        apr_pool_cleanup_register(r->pool, def, def_cleanup, apr_pool_cleanup_null);
    }
    apr_hash_set(reg->defs[is_input], lower_copy(r->pool, def->name), APR_HASH_KEY_STRING,
                 def);
    Py_RETURN_NONE;
}

PyObject *mp_filter_add(request_rec *r, int is_input, PyObject *args)
{
    const char *method = is_input ? "add_input_filter" : "add_output_filter";
    const mp_filter_def *def = NULL;
    ap_filter_rec_t *frec;
    ap_filter_t *added;
    mp_filter_ctx *ctx = NULL;
    mp_registry *reg;
    PyObject *name_o;
    const char *name;

    if (!PyArg_ParseTuple(args, is_input ? "U:add_input_filter" : "U:add_output_filter",
                          &name_o))
        return NULL;
    if (!(name = mp_latin1_copy(r->pool, name_o, "filter name")))
        return NULL;
    if ((reg = registry(r, 0)) != NULL)
        def = apr_hash_get(reg->defs[is_input], lower_copy(r->pool, name), APR_HASH_KEY_STRING);
    if (def) {
        frec = is_input ? dynamic_in : dynamic_out;
        ctx = apr_pcalloc(r->pool, sizeof(*ctx));
        ctx->def = def;
    }
    else {
        frec = is_input ? ap_get_input_filter_handle(name) : ap_get_output_filter_handle(name);
    }
    if (!frec)
        return PyErr_Format(PyExc_ValueError,
                            "%s(): there is no %s filter named %R: register it with %s, "
                            "req.register_%s_filter() or load the Apache module that "
                            "provides it", method, is_input ? "input" : "output", name_o,
                            kind(is_input), is_input ? "input" : "output");
    added = is_input ? ap_add_input_filter_handle(frec, ctx, r, r->connection)
                     : ap_add_output_filter_handle(frec, ctx, r, r->connection);
    if (!added)
        return PyErr_Format(PyExc_RuntimeError, "%s(): Apache could not add the filter %R",
                            method, name_o);
    Py_RETURN_NONE;
}
