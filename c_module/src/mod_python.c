/*
 * mod_python.c -- the module record: Apache hooks for every request phase,
 * Python's start in each child, and the version banner.
 */
#include "mp_config.h"
#include "mp_connection.h"
#include "mp_dispatch.h"
#include "mp_filter.h"
#include "mp_imports.h"
#include "mp_interp.h"
#include "mp_mutex.h"
#include "mp_ssi.h"

static int mp_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    (void)plog;
    (void)ptemp;
    (void)s;
    ap_add_version_component(pconf, MP_COMPONENT);
    return OK;
}

/* `httpd -M` (-t -D DUMP_MODULES) lists modules by name only; mod_so prints
 * that list from this hook, so the line after it says which mod_python and
 * which Python the loaded module is. */
static void mp_test_config(apr_pool_t *pconf, server_rec *s)
{
    apr_file_t *out;
    (void)s;
    if (!ap_exists_config_define("DUMP_MODULES"))
        return;
    if (apr_file_open_stdout(&out, pconf) != APR_SUCCESS)
        return; /* nowhere to print: the module list itself is mod_so's job */
    apr_file_printf(out, "%s (built for Python %s)\n", MP_COMPONENT, PY_VERSION);
}

static void mp_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (mp_python_init(pchild, s) != 0)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_python: Python is not available in this process; "
                     "requests for Python handlers will fail with 500");
    else
        mp_run_imports(pchild, s);
}

#define PHASE_HOOK(fn, phase) \
    static int fn(request_rec *r) { return mp_run_phase(r, phase); }

PHASE_HOOK(hook_post_read_request, MP_PHASE_POST_READ_REQUEST)
PHASE_HOOK(hook_trans, MP_PHASE_TRANS)
PHASE_HOOK(hook_header_parser, MP_PHASE_HEADER_PARSER)
PHASE_HOOK(hook_access, MP_PHASE_ACCESS)
PHASE_HOOK(hook_authen, MP_PHASE_AUTHEN)
PHASE_HOOK(hook_authz, MP_PHASE_AUTHZ)
PHASE_HOOK(hook_type, MP_PHASE_TYPE)
PHASE_HOOK(hook_fixup, MP_PHASE_FIXUP)

static int hook_handler(request_rec *r)
{
    if (!r->handler
        || (strcmp(r->handler, "mod_python") != 0 && strcmp(r->handler, "python-program") != 0))
        return DECLINED;
    return mp_run_phase(r, MP_PHASE_HANDLER);
}

static int hook_log(request_rec *r)
{
    const apr_array_header_t *cleanups = mp_dir_conf(r->per_dir_config)->handlers[MP_PHASE_CLEANUP];
    /* PythonCleanupHandler runs from the request pool's cleanup; make sure there is one */
    if (cleanups && cleanups->nelts)
        mp_request_state_ensure(r);
    return mp_run_phase(r, MP_PHASE_LOG);
}

static void register_hooks(apr_pool_t *p)
{
    /* Python handlers run before the stock modules of their phase. */
    static const char *const before_authn[] = {"mod_auth_basic.c", "mod_auth_digest.c",
                                               "mod_auth_form.c", "mod_authn_default.c", NULL};
    static const char *const before_authz[] = {"mod_authz_user.c", "mod_authz_groupfile.c",
                                               "mod_authz_host.c", "mod_authz_owner.c",
                                               "mod_authz_default.c", "mod_authz_core.c", NULL};
    static const char *const after_mod_so[] = {"mod_so.c", NULL};
    (void)p;
    ap_hook_post_config(mp_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(mp_test_config, after_mod_so, NULL, APR_HOOK_LAST);
    ap_hook_post_read_request(hook_post_read_request, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(hook_trans, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_header_parser(hook_header_parser, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_access_checker(hook_access, NULL, NULL, APR_HOOK_MIDDLE);
#if MP_HTTPD_24
    ap_hook_check_authn(hook_authen, NULL, before_authn, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(hook_authz, NULL, before_authz, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
#else
    ap_hook_check_user_id(hook_authen, NULL, before_authn, APR_HOOK_MIDDLE);
    ap_hook_auth_checker(hook_authz, NULL, before_authz, APR_HOOK_MIDDLE);
#endif
    ap_hook_type_checker(hook_type, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(hook_fixup, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(hook_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(hook_log, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mp_ssi_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    mp_mutex_register_hooks(p);
    mp_register_connection_hooks(p);
    mp_filters_register_hooks(p);
}

module AP_MODULE_DECLARE_DATA python_module = {
    STANDARD20_MODULE_STUFF,
    mp_create_dir_config,
    mp_merge_dir_config,
    mp_create_srv_config,
    mp_merge_srv_config,
    mp_commands,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
