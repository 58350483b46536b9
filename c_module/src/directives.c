/*
 * directives.c -- mod_python's configuration directives and the merging of
 * per-directory configuration (manual section 5).
 */
#include "mp_config.h"
#include "mp_connection.h"
#include "mp_filter.h"

mp_global_config mp_globals_config = { NULL, 0 };

const char *const mp_phase_directive[MP_NUM_PHASES] = {
    "PythonPostReadRequestHandler",
    "PythonTransHandler",
    "PythonHeaderParserHandler",
    "PythonAccessHandler",
    "PythonAuthenHandler",
    "PythonAuthzHandler",
    "PythonTypeHandler",
    "PythonFixupHandler",
    "PythonHandler",
    "PythonLogHandler",
    "PythonCleanupHandler",
};

/* The callable a handler names when it names none: "PythonAuthenHandler" -> "authenhandler". */
static const char *default_callable(apr_pool_t *p, const char *directive)
{
    char *name = apr_pstrdup(p, directive + strlen("Python"));
    ap_str_tolower(name);
    return name;
}

void *mp_create_dir_config(apr_pool_t *p, char *dir)
{
    mp_dir_config *conf = apr_pcalloc(p, sizeof(*conf));
    conf->directives = apr_table_make(p, 4);
    conf->options = apr_table_make(p, 4);
    conf->removed = apr_table_make(p, 1);
    conf->debug = conf->autoreload = conf->enable_pdb = -1;
    conf->interp_per_directory = conf->interp_per_directive = -1;
    conf->directory = dir ? apr_pstrdup(p, dir) : NULL;
    return conf;
}

void *mp_merge_dir_config(apr_pool_t *p, void *basev, void *addv)
{
    const mp_dir_config *base = basev, *add = addv;
    mp_dir_config *conf = apr_pcalloc(p, sizeof(*conf));
    const apr_array_header_t *removed;
    const apr_table_entry_t *e;
    int i;

    /* A container that names handlers for a phase replaces the inherited list. */
    for (i = 0; i < MP_NUM_PHASES; i++)
        conf->handlers[i] = add->handlers[i] ? add->handlers[i] : base->handlers[i];

    conf->directives = apr_table_overlay(p, base->directives, add->directives);
    apr_table_compress(conf->directives, APR_OVERLAP_TABLES_SET);

    conf->options = apr_table_copy(p, base->options);
    removed = apr_table_elts(add->removed);
    e = (const apr_table_entry_t *)removed->elts;
    for (i = 0; i < removed->nelts; i++)
        apr_table_unset(conf->options, e[i].key);
    apr_table_overlap(conf->options, add->options, APR_OVERLAP_TABLES_SET);
    /*
     * Removals accumulate: Apache merges sections pairwise in whatever grouping
     * suits it (the <Directory> and .htaccess chain first, the server last), so
     * a key removed anywhere above must stay removed unless set again below.
     */
    conf->removed = apr_table_copy(p, base->removed);
    e = (const apr_table_entry_t *)apr_table_elts(add->options)->elts;
    for (i = 0; i < apr_table_elts(add->options)->nelts; i++)
        apr_table_unset(conf->removed, e[i].key);
    apr_table_overlap(conf->removed, add->removed, APR_OVERLAP_TABLES_SET);

    conf->interpreter = add->interpreter ? add->interpreter : base->interpreter;
    conf->python_path = add->python_path ? add->python_path : base->python_path;
#define MERGE_FLAG(f) conf->f = add->f != -1 ? add->f : base->f
    MERGE_FLAG(debug);
    MERGE_FLAG(autoreload);
    MERGE_FLAG(enable_pdb);
    MERGE_FLAG(interp_per_directory);
    MERGE_FLAG(interp_per_directive);
#undef MERGE_FLAG
    conf->directory = add->directory ? add->directory : base->directory;
    conf->requires = add->requires ? add->requires : base->requires;
    return conf;
}

void *mp_create_srv_config(apr_pool_t *p, server_rec *s)
{
    mp_srv_config *conf = apr_pcalloc(p, sizeof(*conf));
    (void)s;
    conf->imports = apr_array_make(p, 1, sizeof(mp_named_handler));
    conf->input_filters = apr_hash_make(p);
    conf->output_filters = apr_hash_make(p);
    return conf;
}

void *mp_merge_srv_config(apr_pool_t *p, void *basev, void *addv)
{
    const mp_srv_config *base = basev, *add = addv;
    mp_srv_config *conf = apr_pcalloc(p, sizeof(*conf));
    conf->imports = apr_array_append(p, base->imports, add->imports);
    conf->connection_handler = add->connection_handler ? add->connection_handler
                                                       : base->connection_handler;
    conf->input_filters = apr_hash_overlay(p, add->input_filters, base->input_filters);
    conf->output_filters = apr_hash_overlay(p, add->output_filters, base->output_filters);
    return conf;
}

/* Is the directive being read inside <Location> / <LocationMatch>? */
static int in_location(const cmd_parms *cmd)
{
    const ap_directive_t *d;
    for (d = cmd->directive ? cmd->directive->parent : NULL; d; d = d->parent) {
        if (strcasecmp(d->directive, "<Location") == 0
            || strcasecmp(d->directive, "<LocationMatch") == 0)
            return 1;
    }
    return 0;
}

/*
 * The directory a handler's module is looked up in: the <Directory> or
 * .htaccess directory, with a trailing slash.  Locations name URLs, not
 * directories, and server-level directives have no directory.
 */
static const char *handler_directory(cmd_parms *cmd)
{
    size_t len;
    if (!cmd->path || cmd->path[0] != '/' || in_location(cmd))
        return NULL;
    len = strlen(cmd->path);
    if (cmd->path[len - 1] == '/')
        return cmd->path;
    return apr_pstrcat(cmd->pool, cmd->path, "/", NULL);
}

static apr_array_header_t *phase_list(apr_pool_t *p, mp_dir_config *conf, mp_phase phase)
{
    if (!conf->handlers[phase])
        conf->handlers[phase] = apr_array_make(p, 2, sizeof(mp_handler));
    return conf->handlers[phase];
}

static const char *add_handlers(cmd_parms *cmd, mp_dir_config *conf, mp_phase phase,
                                const char *default_name, const char *args)
{
    apr_array_header_t *list = phase_list(cmd->pool, conf, phase);
    apr_array_header_t *exts = NULL;
    const char *directory = handler_directory(cmd);
    int first = list->nelts, seen_bar = 0, i;
    char *word;

    while (*args) {
        word = ap_getword_conf(cmd->pool, &args);
        if (!*word)
            break;
        if (strcmp(word, "|") == 0) {
            if (seen_bar)
                return apr_pstrcat(cmd->pool, cmd->cmd->name, ": '|' given twice", NULL);
            seen_bar = 1;
            exts = apr_array_make(cmd->pool, 2, sizeof(const char *));
        }
        else if (seen_bar) {
            if (word[0] != '.')
                return apr_pstrcat(cmd->pool, cmd->cmd->name, ": '", word,
                                   "' after '|' is not a file extension like .py", NULL);
            APR_ARRAY_PUSH(exts, const char *) = word;
        }
        else {
            mp_handler *h = &APR_ARRAY_PUSH(list, mp_handler);
            h->spec = word;
            h->directory = directory;
            h->location = in_location(cmd) ? cmd->path : NULL;
            h->default_name = default_name;
            h->exts = NULL;
            h->silent = 0;
        }
    }
    if (list->nelts == first)
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " needs at least one handler", NULL);
    if (seen_bar && exts->nelts == 0)
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": '|' must be followed by extensions",
                           NULL);
    for (i = first; i < list->nelts; i++)
        APR_ARRAY_IDX(list, i, mp_handler).exts = exts;
    return NULL;
}

static const char *cmd_handler(cmd_parms *cmd, void *mconfig, const char *args)
{
    mp_phase phase = (mp_phase)(apr_uintptr_t)cmd->info;
    return add_handlers(cmd, mconfig, phase, default_callable(cmd->pool, cmd->cmd->name), args);
}

/* PythonInitHandler: post-read-request at server level, header-parser in a directory. */
static const char *cmd_init_handler(cmd_parms *cmd, void *mconfig, const char *args)
{
    mp_phase phase = cmd->path ? MP_PHASE_HEADER_PARSER : MP_PHASE_POST_READ_REQUEST;
    return add_handlers(cmd, mconfig, phase, "inithandler", args);
}

static const char *cmd_handler_module(cmd_parms *cmd, void *mconfig, const char *module)
{
    mp_dir_config *conf = mconfig;
    const char *directory = handler_directory(cmd);
    int phase;

    for (phase = 0; phase < MP_NUM_PHASES; phase++) {
        mp_handler *h;
        /* post-read-request and trans exist only outside directories */
        if (cmd->path && phase <= MP_PHASE_TRANS)
            continue;
        h = &APR_ARRAY_PUSH(phase_list(cmd->pool, conf, phase), mp_handler);
        h->spec = module;
        h->directory = directory;
        h->location = in_location(cmd) ? cmd->path : NULL;
        h->default_name = default_callable(cmd->pool, mp_phase_directive[phase]);
        h->exts = NULL;
        h->silent = 1;
    }
    return NULL;
}

static const char *cmd_flag(cmd_parms *cmd, void *mconfig, int on)
{
    mp_dir_config *conf = mconfig;
    int *field = (int *)((char *)conf + (apr_size_t)(apr_uintptr_t)cmd->info);
    *field = on;
    apr_table_set(conf->directives, cmd->cmd->name, on ? "1" : "0");
    return NULL;
}

static const char *cmd_interpreter(cmd_parms *cmd, void *mconfig, const char *name)
{
    mp_dir_config *conf = mconfig;
    if (!*name)
        return "PythonInterpreter needs a non-empty name";
    conf->interpreter = name;
    apr_table_set(conf->directives, cmd->cmd->name, name);
    return NULL;
}

static const char *cmd_python_path(cmd_parms *cmd, void *mconfig, const char *expr)
{
    mp_dir_config *conf = mconfig;
    conf->python_path = expr;
    apr_table_set(conf->directives, cmd->cmd->name, expr);
    return NULL;
}

static const char *cmd_option(cmd_parms *cmd, void *mconfig, const char *key, const char *val)
{
    mp_dir_config *conf = mconfig;
    (void)cmd;
    if (val && *val) {
        apr_table_set(conf->options, key, val);
        apr_table_unset(conf->removed, key);
    }
    else {
        apr_table_unset(conf->options, key);
        apr_table_set(conf->removed, key, "1");
    }
    return NULL;
}

static const char *cmd_optimize(cmd_parms *cmd, void *mconfig, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)mconfig;
    if (err)
        return err;
    mp_globals_config.optimize = on;
    return NULL;
}

static const char *cmd_python_home(cmd_parms *cmd, void *mconfig, const char *dir)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_finfo_t fi;
    (void)mconfig;
    if (err)
        return err;
    if (apr_stat(&fi, dir, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_DIR)
        return apr_pstrcat(cmd->pool, "PythonHome: '", dir, "' is not a directory", NULL);
    mp_globals_config.python_home = ap_server_root_relative(cmd->pool, dir);
    return NULL;
}

/* PythonImport module[::function] interpreter_name (manual 5.4.3); run by imports.c. */
static const char *cmd_import(cmd_parms *cmd, void *mconfig, const char *spec,
                              const char *interpreter)
{
    const char *sep = strstr(spec, "::");
    mp_named_handler *h;
    (void)mconfig;
    if (!*spec || sep == spec || (sep && !sep[2]))
        return apr_pstrcat(cmd->pool, "PythonImport: '", spec, "' is not module or "
                           "module::function", NULL);
    if (!*interpreter)
        return "PythonImport needs a non-empty interpreter name";
    h = &APR_ARRAY_PUSH(mp_srv_conf(cmd->server)->imports, mp_named_handler);
    h->spec = spec;
    h->name = interpreter;
    h->directory = NULL;
    return NULL;
}

#if MP_HTTPD_24
/*
 * httpd 2.4 dropped ap_requires(), so req.requires() reads the Require lines
 * that pass by here.  DECLINE_CMD hands each one on to mod_authz_core.
 */
static const char *cmd_require(cmd_parms *cmd, void *mconfig, const char *args)
{
    mp_dir_config *conf = mconfig;
    if (!conf->requires)
        conf->requires = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(conf->requires, const char *) = apr_pstrdup(cmd->pool, args);
    return DECLINE_CMD;
}
#endif

#define MP_FLAG(name, field, help) \
    AP_INIT_FLAG(name, cmd_flag, (void *)APR_OFFSETOF(mp_dir_config, field), OR_ALL, help)
#define MP_PHASE(name, phase, where, help) \
    AP_INIT_RAW_ARGS(name, cmd_handler, (void *)(apr_uintptr_t)(phase), where, help)

const command_rec mp_commands[] = {
    MP_PHASE("PythonPostReadRequestHandler", MP_PHASE_POST_READ_REQUEST, RSRC_CONF,
             "Python post-read-request handlers"),
    MP_PHASE("PythonTransHandler", MP_PHASE_TRANS, RSRC_CONF, "Python URI translation handlers"),
    MP_PHASE("PythonHeaderParserHandler", MP_PHASE_HEADER_PARSER, OR_ALL,
             "Python header parser handlers"),
    AP_INIT_RAW_ARGS("PythonInitHandler", cmd_init_handler, NULL, OR_ALL,
                     "Python handlers for the first phase allowed where the directive is"),
    MP_PHASE("PythonAccessHandler", MP_PHASE_ACCESS, OR_ALL, "Python access handlers"),
    MP_PHASE("PythonAuthenHandler", MP_PHASE_AUTHEN, OR_ALL, "Python authentication handlers"),
    MP_PHASE("PythonAuthzHandler", MP_PHASE_AUTHZ, OR_ALL, "Python authorization handlers"),
    MP_PHASE("PythonTypeHandler", MP_PHASE_TYPE, OR_ALL, "Python type checking handlers"),
    MP_PHASE("PythonFixupHandler", MP_PHASE_FIXUP, OR_ALL, "Python fixup handlers"),
    MP_PHASE("PythonHandler", MP_PHASE_HANDLER, OR_ALL, "Python content handlers"),
    MP_PHASE("PythonLogHandler", MP_PHASE_LOG, OR_ALL, "Python logging handlers"),
    MP_PHASE("PythonCleanupHandler", MP_PHASE_CLEANUP, OR_ALL,
             "Python handlers run when the request is destroyed"),
    AP_INIT_TAKE1("PythonHandlerModule", cmd_handler_module, NULL, OR_ALL,
                  "a module whose default-named functions handle every phase"),
    MP_FLAG("PythonDebug", debug, "send Python tracebacks to the client"),
    MP_FLAG("PythonAutoReload", autoreload, "reload handler modules whose file changed"),
    MP_FLAG("PythonEnablePdb", enable_pdb, "run handlers under the Python debugger"),
    MP_FLAG("PythonInterpPerDirectory", interp_per_directory,
            "name interpreters after the directory of the requested file"),
    MP_FLAG("PythonInterpPerDirective", interp_per_directive,
            "name interpreters after the directory of the handler directive"),
    AP_INIT_TAKE1("PythonInterpreter", cmd_interpreter, NULL, OR_ALL,
                  "the name of the Python interpreter to use"),
    AP_INIT_TAKE1("PythonPath", cmd_python_path, NULL, OR_ALL,
                  "a Python expression whose value becomes sys.path"),
    AP_INIT_TAKE12("PythonOption", cmd_option, NULL, OR_ALL,
                   "a key and value for req.get_options(); no value removes the key"),
    AP_INIT_FLAG("PythonOptimize", cmd_optimize, NULL, RSRC_CONF,
                 "run Python with optimisation, like python -O"),
    AP_INIT_TAKE1("PythonHome", cmd_python_home, NULL, RSRC_CONF,
                  "a Python installation prefix or a virtualenv directory"),
    AP_INIT_TAKE2("PythonImport", cmd_import, NULL, RSRC_CONF,
                  "module[::function] and the interpreter to import it into at child start"),
    AP_INIT_TAKE1("PythonConnectionHandler", mp_cmd_connection_handler, NULL, RSRC_CONF,
                  "module[::callable] that handles this server's connections itself"),
    AP_INIT_TAKE2("PythonInputFilter", mp_cmd_input_filter, NULL, RSRC_CONF,
                  "module[::callable] and the name of the input filter it becomes"),
    AP_INIT_TAKE2("PythonOutputFilter", mp_cmd_output_filter, NULL, RSRC_CONF,
                  "module[::callable] and the name of the output filter it becomes"),
#if MP_HTTPD_24
    AP_INIT_RAW_ARGS("Require", cmd_require, NULL, OR_AUTHCFG,
                     "noted for req.requires(), then handled by mod_authz_core"),
#endif
    {NULL}
};
