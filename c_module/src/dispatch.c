/*
 * dispatch.c -- from an Apache hook to mod_python.apache._dispatch.
 *
 * The C side picks the handlers that apply (phase, "| .ext"), names the
 * interpreter, and hands (req, phase, handlers) to Python, which imports,
 * calls and combines results.  Each request keeps one request object per
 * interpreter it ran in, torn down by one pool cleanup.
 */
#include "mp_dispatch.h"
#include "mp_interp.h"
#include "mp_apache.h"

typedef struct mp_req_object {
    mp_interp *interp;
    PyObject *req;
    struct mp_req_object *next;
} mp_req_object;

typedef struct {
    request_rec *r;
    mp_req_object *objects;
    unsigned dynamic_phases;    /* bit per phase with req.add_handler() handlers */
    mp_interp *dynamic_interp;  /* where those were registered */
} mp_req_state;

static apr_status_t request_cleanup(void *data);

static mp_req_state *request_state(request_rec *r)
{
    mp_req_state *rs = ap_get_module_config(r->request_config, &python_module);
    if (!rs) {
        rs = apr_pcalloc(r->pool, sizeof(*rs));
        rs->r = r;
        ap_set_module_config(r->request_config, &python_module, rs);
        apr_pool_cleanup_register(r->pool, rs, request_cleanup, apr_pool_cleanup_null);
    }
    return rs;
}

void mp_request_state_ensure(request_rec *r)
{
    (void)request_state(r);
}

/* The request object of `r` in `in` (GIL held); borrowed. */
static PyObject *request_object(mp_req_state *rs, mp_interp *in)
{
    mp_req_object *o;
    for (o = rs->objects; o; o = o->next)
        if (o->interp == in)
            return o->req;
    o = apr_pcalloc(rs->r->pool, sizeof(*o));
    o->interp = in;
    o->req = mp_request_new(in->c_module, rs->r, in->name);
    if (!o->req)
        return NULL;
    ((mp_request_object *)o->req)->interp = in;
    o->next = rs->objects;
    rs->objects = o;
    return o->req;
}

PyObject *mp_request_object_for(request_rec *r, void *interp)
{
    return request_object(request_state(r), interp);
}

void mp_request_note_dynamic(request_rec *r, int phase, void *interp)
{
    mp_req_state *rs = request_state(r);
    rs->dynamic_phases |= 1u << phase;
    if (!rs->dynamic_interp)
        rs->dynamic_interp = interp;
}

static const char *file_extension(const char *filename)
{
    const char *slash, *dot;
    if (!filename)
        return NULL;
    slash = strrchr(filename, '/');
    dot = strrchr(slash ? slash : filename, '.');
    return dot;
}

static int handler_applies(const mp_handler *h, const char *ext)
{
    int i;
    if (!h->exts)
        return 1;
    if (!ext)
        return 0;
    for (i = 0; i < h->exts->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(h->exts, i, const char *), ext) == 0)
            return 1;
    return 0;
}

/* The interpreter name for this request and phase (manual 4.1, 5.4.4-5.4.6). */
static const char *interpreter_name(request_rec *r, const mp_dir_config *conf, mp_phase phase,
                                    const mp_handler *first)
{
    const char *server_name = r->server->server_hostname;
    if (conf->interpreter)
        return conf->interpreter;
    if (conf->interp_per_directive > 0 && first && first->directory)
        return first->directory;
    if (conf->interp_per_directory > 0) {
        if (phase <= MP_PHASE_TRANS || !r->filename)
            return MP_MAIN_INTERPRETER;
        if (r->finfo.filetype == APR_DIR)
            return r->filename;
        return ap_make_dirstr_parent(r->pool, r->filename);
    }
    return server_name ? server_name : MP_MAIN_INTERPRETER;
}

/* The interpreter of code that no handler directive names (SSI): per-directive falls through. */
const char *mp_request_interpreter(request_rec *r)
{
    return interpreter_name(r, mp_dir_conf(r->per_dir_config), MP_PHASE_HANDLER, NULL);
}

static PyObject *handler_tuple(const mp_handler *h)
{
    return Py_BuildValue("(sNsON)", h->spec, mp_path_or_none(h->directory), h->default_name,
                         h->silent ? Py_True : Py_False, mp_str_or_none(h->location));
}

int mp_run_phase(request_rec *r, mp_phase phase)
{
    const mp_dir_config *conf = mp_dir_conf(r->per_dir_config);
    const apr_array_header_t *list = conf->handlers[phase];
    const char *ext = phase > MP_PHASE_TRANS ? file_extension(r->filename) : NULL;
    const mp_handler *first = NULL;
    const mp_req_state *rs = ap_get_module_config(r->request_config, &python_module);
    int dynamic = rs && (rs->dynamic_phases & (1u << phase));
    PyObject *handlers = NULL, *phase_name = NULL, *req, *res = NULL;
    mp_interp *in;
    int i, n = 0, status = HTTP_INTERNAL_SERVER_ERROR;

    for (i = 0; list && i < list->nelts; i++) {
        if (handler_applies(&APR_ARRAY_IDX(list, i, mp_handler), ext)) {
            if (!first)
                first = &APR_ARRAY_IDX(list, i, mp_handler);
            n++;
        }
    }
    if (!n && !dynamic)
        return DECLINED;

    /* Only req.add_handler() handlers: run them where they were registered. */
    in = first ? mp_acquire(interpreter_name(r, conf, phase, first), r->server)
               : mp_acquire(rs->dynamic_interp->name, r->server);
    if (!in) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: no Python interpreter for %s (see earlier errors)",
                      mp_phase_directive[phase]);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!in->dispatch) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: mod_python.apache could not be loaded into interpreter '%s' "
                      "(see earlier errors)", in->name);
        mp_release(in);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    req = request_object(request_state(r), in);
    handlers = PyTuple_New(n);
    phase_name = PyUnicode_FromString(mp_phase_directive[phase]);
    if (!req || !handlers || !phase_name)
        goto error;
    for (i = 0, n = 0; list && i < list->nelts; i++) {
        const mp_handler *h = &APR_ARRAY_IDX(list, i, mp_handler);
        PyObject *t;
        if (!handler_applies(h, ext))
            continue;
        if (!(t = handler_tuple(h)))
            goto error;
        PyTuple_SET_ITEM(handlers, n++, t);
    }
    mp_request_set_phase(req, phase_name);
    res = PyObject_CallFunctionObjArgs(in->dispatch, req, phase_name, handlers, NULL);
    if (!res)
        goto error;
    status = (int)PyLong_AsLong(res);
    if (status == -1 && PyErr_Occurred())
        goto error;
    goto done;
error:
    mp_log_exception(r->server, r, "mod_python's dispatcher");
    status = HTTP_INTERNAL_SERVER_ERROR;
done:
    Py_XDECREF(res);
    Py_XDECREF(handlers);
    Py_XDECREF(phase_name);
    mp_release(in);
    return status;
}

/*
 * When the request pool goes: callables from req.register_cleanup() first,
 * then PythonCleanupHandler (manual 5.1.13), then the request objects.
 */
static apr_status_t request_cleanup(void *data)
{
    mp_req_state *rs = data;
    mp_req_object *o;

    if (!mp_python_ready())
        return APR_SUCCESS;
    for (o = rs->objects; o; o = o->next) {
        mp_interp *in = mp_acquire(o->interp->name, rs->r->server);
        if (!in)
            continue;
        mp_request_run_cleanups(o->req);
        mp_release(in);
    }
    (void)mp_run_phase(rs->r, MP_PHASE_CLEANUP);
    for (o = rs->objects; o; o = o->next) {
        mp_interp *in = mp_acquire(o->interp->name, rs->r->server);
        if (!in)
            continue;
        mp_request_invalidate(o->req);
        Py_CLEAR(o->req);
        mp_release(in);
    }
    rs->objects = NULL;
    return APR_SUCCESS;
}
