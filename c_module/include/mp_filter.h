/*
 * mp_filter.h -- Python input and output filters (manual 4.3, 4.5.6, 5.2).
 *
 * filters.c holds the Apache side: the PythonInputFilter/PythonOutputFilter
 * directives, the C filter functions Apache calls, the generic filters
 * behind req.register_*_filter(), and req.add_*_filter().  filterobject.c
 * holds the Python filter object, whose methods move buckets between the
 * brigades of the running call described by mp_filter_ctx.
 */
#ifndef MP_FILTER_H
#define MP_FILTER_H

#include "mp_apache.h"
#include "mp_interp.h"

/* What a filter runs: from a directive, or from req.register_*_filter(). */
typedef struct {
    const char *name;         /* as the configuration or the handler wrote it */
    const char *handler;      /* "module", "module::callable" or a file path */
    PyObject *callable;       /* or the callable given to register_*_filter() (owned) */
    const char *directory;    /* looked in first for the module; NULL: sys.path */
    const char *interpreter;  /* run in this interpreter; NULL: the request's */
    int is_input;
} mp_filter_def;

/* One filter instance (one ap_filter_t) of one request. */
typedef struct {
    const mp_filter_def *def;
    ap_filter_t *f;
    request_rec *r;
    const char *interp_name;
    PyObject *obj;              /* the Python filter object (owned, in interp_name) */
    PyObject *dispatch;         /* mod_python.apache._dispatch_filter (owned) */

    /*
     * Output: bb_in is the brigade of the running call, bb_out collects
     * what goes to the next filter.  Input: bb_in holds what was fetched
     * from the next filter and not read yet, bb_out what the filter wrote
     * and the caller has not taken yet (it outlives the call).
     */
    apr_bucket_brigade *bb_in;
    apr_bucket_brigade *bb_out;
    apr_size_t out_bytes;       /* output: bytes in bb_out not passed on yet */

    /* The running call (input filters: what the caller asked for). */
    int in_call;
    int busy;                   /* a method runs with the GIL released */
    ap_input_mode_t mode;
    apr_read_type_e block;
    apr_off_t readbytes;
    int fetched;                /* input: fetched from the next filter in this call */
    int eagain;                 /* input: a non-blocking fetch found nothing */

    /* The filter's life. */
    int eos_in;                 /* read() returned None */
    int closed;                 /* close() (or the end of stream passed on) */
    int disabled;               /* disable(): later calls pass data through */
    int failed;                 /* the handler raised: later calls fail */
    int started;
    apr_status_t down_rv;       /* output: first error passing data on */
    apr_status_t up_rv;         /* input: first error fetching data */
} mp_filter_ctx;

/* filterobject.c */
PyObject *mp_filter_object_new(PyObject *c_module, mp_filter_ctx *ctx, PyObject *req);
void mp_filter_object_invalidate(PyObject *obj);

/* filters.c: with the GIL held, pass bb_out to the next filter (output filters). */
apr_status_t mp_filter_pass_down(mp_filter_ctx *ctx);

/* filters.c: the directives (in mp_commands) and the generic filters (register_hooks). */
const char *mp_cmd_input_filter(cmd_parms *cmd, void *mconfig, const char *handler,
                                const char *name);
const char *mp_cmd_output_filter(cmd_parms *cmd, void *mconfig, const char *handler,
                                 const char *name);
void mp_filters_register_hooks(apr_pool_t *p);

/*
 * filters.c: req.register_input_filter / register_output_filter (args as
 * given to the method) and req.add_input_filter / add_output_filter.
 * `req` is the request object; `interpreter` its interpreter's name and
 * `hlist` the handler entry being run (or NULL), whose directory is the
 * default `dir`.
 */
PyObject *mp_filter_register(request_rec *r, int is_input, PyObject *args,
                             PyObject *interpreter, PyObject *hlist);
PyObject *mp_filter_add(request_rec *r, int is_input, PyObject *args);

#endif /* MP_FILTER_H */
