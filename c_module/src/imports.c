/*
 * imports.c -- PythonImport (manual 5.4.3): at child start, import each
 * named module into its named interpreter with apache.import_module and call
 * `module::function` if one is given.  A failing import is logged with its
 * traceback and the child goes on.
 *
 * The directive is read in the main server and in virtual hosts; a virtual
 * host's list also holds the main server's entries (server configs merge),
 * so each (interpreter, module) line runs once, in configuration order.
 */
#include "mp_imports.h"
#include "mp_config.h"
#include "mp_interp.h"
#include "mp_apache.h"

static void run_one(apr_pool_t *p, server_rec *s, const mp_named_handler *h,
                    const char *python_path)
{
    mp_interp *in = mp_acquire(h->name, s);
    PyObject *apache, *res = NULL;

    if (!in) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_python: PythonImport %s %s: no Python interpreter '%s' "
                     "(see earlier errors)", h->spec, h->name, h->name);
        return;
    }
    apache = PyImport_ImportModule("mod_python.apache");
    if (apache)
        res = PyObject_CallMethod(apache, "_python_import", "NN", mp_path_or_none(h->spec),
                                  mp_str_or_none(python_path));
    if (!res)
        mp_log_exception(s, NULL, apr_psprintf(p, "PythonImport %s %s", h->spec, h->name));
    Py_XDECREF(res);
    Py_XDECREF(apache);
    mp_release(in);
}

void mp_run_imports(apr_pool_t *pchild, server_rec *main_server)
{
    apr_pool_t *p;
    apr_hash_t *seen;
    server_rec *s;

    if (apr_pool_create(&p, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, main_server,
                     "mod_python: out of memory running PythonImport");
        return;
    }
    seen = apr_hash_make(p);
    for (s = main_server; s; s = s->next) {
        const mp_srv_config *conf = mp_srv_conf(s);
        const char *python_path = mp_dir_conf(s->lookup_defaults)->python_path;
        int i;
        for (i = 0; conf->imports && i < conf->imports->nelts; i++) {
            const mp_named_handler *h = &APR_ARRAY_IDX(conf->imports, i, mp_named_handler);
            const char *key = apr_pstrcat(p, h->name, "\n", h->spec, NULL);
            if (apr_hash_get(seen, key, APR_HASH_KEY_STRING))
                continue;
            apr_hash_set(seen, key, APR_HASH_KEY_STRING, "");
            run_one(p, s, h, python_path);
        }
    }
    apr_pool_destroy(p);
}
