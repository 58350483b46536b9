/*
 * ssi.c -- Python in Server Side Includes (manual section 6).
 *
 * mod_include parses the page and calls handle_python() for each
 * <!--#python eval="expr" --> or <!--#python exec="code" --> element.  The
 * code runs in the request's interpreter (as its handlers would) through
 * mod_python.apache._ssi_eval, which returns the bytes to put in the page:
 * what the code wrote to `filter`, then for eval str() of the value.  An
 * error is logged with its traceback and the page gets mod_include's error
 * text ("[an error occurred while processing this directive]" or SSIErrorMsg).
 *
 * IncludesNOEXEC forbids the element (manual 6.1), as it forbids #exec.
 */
#include "mp_ssi.h"
#include "mp_dispatch.h"
#include "mp_interp.h"
#include "mp_apache.h"
#include "mod_include.h"

static APR_OPTIONAL_FN_TYPE(ap_ssi_get_tag_and_value) *get_tag_and_value;

/* mod_include keeps the pointer: it must outlive the configuration. */
static char python_tag[] = "python";

/*
 * Run one eval or exec; on success append its output to bb and return 0.
 * On failure the exception is logged and -1 returned.
 */
static int run_code(include_ctx_t *ctx, ap_filter_t *f, apr_bucket_brigade *bb,
                    const char *kind, const char *code)
{
    request_rec *r = f->r;
    mp_interp *in = mp_acquire(mp_request_interpreter(r), r->server);
    PyObject *apache = NULL, *res = NULL, *req;
    const char *data;
    Py_ssize_t len;
    int flush, status = -1;

    if (!in) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: no Python interpreter for the SSI python element in %s "
                      "(see earlier errors)", r->filename);
        return -1;
    }
    if (!(req = mp_request_object_for(r, in)))
        goto done;
    if (!(apache = PyImport_ImportModule("mod_python.apache")))
        goto done;
    res = PyObject_CallMethod(apache, "_ssi_eval", "OsN", req, kind,
                              PyBytes_FromString(code));
    if (!res)
        goto done;
    if (!PyArg_ParseTuple(res, "y#p;_ssi_eval() must return (bytes, bool)", &data, &len,
                          &flush))
        goto done;
    if (len > 0) {
        /* a heap bucket copies the data: the bytes object goes with the GIL */
        apr_bucket *b = apr_bucket_heap_create(data, (apr_size_t)len, NULL,
                                               f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    if (flush)
        ctx->flush_now = 1;
    status = 0;
done:
    if (status != 0)
        mp_log_exception(r->server, r,
                         apr_psprintf(r->pool, "<!--#python %s=...--> in %s", kind,
                                      r->filename ? r->filename : r->uri));
    Py_XDECREF(res);
    Py_XDECREF(apache);
    mp_release(in);
    return status;
}

static apr_status_t handle_python(include_ctx_t *ctx, ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    char *tag = NULL, *value = NULL;

    if (!ctx->argc) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: missing argument for python element in %s: use "
                      "eval=\"expression\" or exec=\"code\"", r->filename);
        SSI_CREATE_ERROR_BUCKET(ctx, f, bb);
        return APR_SUCCESS;
    }
    if (!(ctx->flags & SSI_FLAG_PRINTING))
        return APR_SUCCESS;   /* inside a false <!--#if --> */
    if (ctx->flags & SSI_FLAG_NO_EXEC) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_python: python element used but not allowed in %s "
                      "(Options IncludesNOEXEC)", r->filename);
        SSI_CREATE_ERROR_BUCKET(ctx, f, bb);
        return APR_SUCCESS;
    }
    for (;;) {
        get_tag_and_value(ctx, &tag, &value, SSI_VALUE_DECODED);
        if (!tag)
            break;
        if (strcmp(tag, "eval") != 0 && strcmp(tag, "exec") != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_python: unknown parameter \"%s\" to tag python in %s "
                          "(use eval or exec)", tag, r->filename);
            SSI_CREATE_ERROR_BUCKET(ctx, f, bb);
            break;
        }
        if (!value) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_python: python element: %s needs a value in %s", tag,
                          r->filename);
            SSI_CREATE_ERROR_BUCKET(ctx, f, bb);
            break;
        }
        if (run_code(ctx, f, bb, tag, value) != 0) {
            SSI_CREATE_ERROR_BUCKET(ctx, f, bb);
            break;
        }
    }
    return APR_SUCCESS;
}

int mp_ssi_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_register_include_handler) *reg;
    (void)pconf;
    (void)plog;
    (void)ptemp;
    (void)s;
    /* mod_include sets up its element table in its own post_config, which runs first */
    reg = APR_RETRIEVE_OPTIONAL_FN(ap_register_include_handler);
    get_tag_and_value = APR_RETRIEVE_OPTIONAL_FN(ap_ssi_get_tag_and_value);
    if (reg && get_tag_and_value)
        reg(python_tag, handle_python);
    return OK;
}
