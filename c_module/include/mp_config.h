/*
 * mp_config.h -- per-directory and per-server configuration of mod_python.
 */
#ifndef MP_CONFIG_H
#define MP_CONFIG_H

#include "mp_common.h"

/* The request phases in the order Apache runs them. */
typedef enum {
    MP_PHASE_POST_READ_REQUEST,
    MP_PHASE_TRANS,
    MP_PHASE_HEADER_PARSER,
    MP_PHASE_ACCESS,
    MP_PHASE_AUTHEN,
    MP_PHASE_AUTHZ,
    MP_PHASE_TYPE,
    MP_PHASE_FIXUP,
    MP_PHASE_HANDLER,
    MP_PHASE_LOG,
    MP_PHASE_CLEANUP,
    MP_NUM_PHASES
} mp_phase;

/* One handler named by a Python*Handler directive (or PythonHandlerModule). */
typedef struct {
    const char *spec;          /* "module", "module::callable", a path */
    const char *directory;     /* where the directive was found; NULL at server level */
    const char *location;      /* the <Location> it was found in, or NULL */
    const char *default_name;  /* callable used when spec names none: "handler", ... */
    apr_array_header_t *exts;  /* "| .ext" restriction (const char *), NULL for none */
    int silent;                /* PythonHandlerModule: a missing callable is no error */
} mp_handler;

typedef struct {
    /* handlers[phase] is NULL when this container says nothing about the phase */
    apr_array_header_t *handlers[MP_NUM_PHASES];
    apr_table_t *directives;   /* what req.get_config() shows */
    apr_table_t *options;      /* PythonOption key -> value */
    apr_table_t *removed;      /* PythonOption keys removed by an empty value */
    const char *interpreter;
    const char *python_path;
    int debug, autoreload, enable_pdb, interp_per_directory, interp_per_directive;
    const char *directory;     /* the container's path, NULL at server level */
    apr_array_header_t *requires; /* Require lines seen here (2.4 has no ap_requires) */
} mp_dir_config;

/* A PythonInputFilter / PythonOutputFilter / PythonImport / connection handler. */
typedef struct {
    const char *spec;
    const char *name;          /* filter name, or interpreter name for PythonImport */
    const char *directory;
} mp_named_handler;

typedef struct {
    apr_array_header_t *imports;     /* mp_named_handler, PythonImport */
    mp_named_handler *connection_handler;
    apr_hash_t *input_filters;       /* name -> mp_named_handler */
    apr_hash_t *output_filters;
} mp_srv_config;

/* Settings that concern the whole process, from the main server's config. */
typedef struct {
    const char *python_home;
    int optimize;
} mp_global_config;

extern mp_global_config mp_globals_config;
extern const char *const mp_phase_directive[MP_NUM_PHASES];
extern const command_rec mp_commands[];

void *mp_create_dir_config(apr_pool_t *p, char *dir);
void *mp_merge_dir_config(apr_pool_t *p, void *base, void *add);
void *mp_create_srv_config(apr_pool_t *p, server_rec *s);
void *mp_merge_srv_config(apr_pool_t *p, void *base, void *add);

static inline mp_dir_config *mp_dir_conf(ap_conf_vector_t *v)
{
    return (mp_dir_config *)ap_get_module_config(v, &python_module);
}

static inline mp_srv_config *mp_srv_conf(server_rec *s)
{
    return (mp_srv_config *)ap_get_module_config(s->module_config, &python_module);
}

#endif /* MP_CONFIG_H */
