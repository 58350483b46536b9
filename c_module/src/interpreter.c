/*
 * interpreter.c -- Python inside one Apache child process.
 *
 * Python is initialised in child_init, never in the Apache parent: the
 * parent unloads and reloads modules on every restart and a Python
 * initialised there could not be finalised and started again cleanly.
 * Each child keeps its interpreters for its whole life and finalises them
 * when the child pool is destroyed.
 */
#include "mp_interp.h"
#include "mp_config.h"
#include "mp_apache.h"
#include "apr_atomic.h"

#include <signal.h>
#include <pthread.h>


#ifndef MP_PYTHON_EXECUTABLE
#error "MP_PYTHON_EXECUTABLE must name the Python this module is built against"
#endif

static struct {
    int ready;
    volatile apr_uint32_t busy;  /* threads inside mp_acquire .. mp_release */
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;   /* guards the interpreter list */
    mp_interp *interps;         /* the main interpreter first */
    server_rec *server;
} rt;

int mp_python_ready(void)
{
    return rt.ready;
}

void mp_log_exception(server_rec *s, request_rec *r, const char *what)
{
    PyObject *type, *value, *tb, *mod = NULL, *lines = NULL, *text = NULL;
    const char *c;

    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return;
    PyErr_NormalizeException(&type, &value, &tb);
    mod = PyImport_ImportModule("traceback");
    if (mod)
        lines = PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                    value ? value : Py_None, tb ? tb : Py_None);
    if (lines) {
        PyObject *empty = PyUnicode_FromString("");
        if (empty) {
            text = PyUnicode_Join(empty, lines);
            Py_DECREF(empty);
        }
    }
    if (text && (c = PyUnicode_AsUTF8(text)) != NULL) {
        char *copy = strdup(c), *save = NULL, *line;
        if (r)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_python: %s failed:", what);
        else
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_python: %s failed:", what);
        for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save)) {
            if (r)
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s", line);
            else
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s", line);
        }
        free(copy);
    }
    else {
        /* Formatting failed too: let Python print what it can to stderr (the error log). */
        PyErr_Clear();
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_python: %s failed", what);
        PyErr_Restore(type, value, tb);
        type = value = tb = NULL;
        PyErr_Print();
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* With the GIL held in the new interpreter: load _apache and mod_python.apache. */
static void setup_interpreter(mp_interp *in, server_rec *s)
{
    PyObject *apache, *name, *server;

    in->c_module = PyImport_ImportModule("_apache");
    if (!in->c_module) {
        mp_log_exception(s, NULL, "importing _apache");
        return;
    }
    apache = PyImport_ImportModule("mod_python.apache");
    if (!apache) {
        mp_log_exception(s, NULL, apr_psprintf(rt.pool, "importing mod_python.apache into "
                                               "interpreter '%s' (is mod_python-core "
                                               "installed for this Python?)", in->name));
        return;
    }
    name = PyUnicode_FromString(in->name);
    server = mp_server_new(in->c_module, ap_server_conf);
    if (!name || !server || PyObject_SetAttrString(apache, "interpreter", name) < 0
        || PyObject_SetAttrString(apache, "main_server", server) < 0
        || PyObject_SetAttrString(in->c_module, "interpreter", name) < 0
        || !(in->dispatch = PyObject_GetAttrString(apache, "_dispatch"))) {
        mp_log_exception(s, NULL, "setting up mod_python.apache");
    }
    Py_XDECREF(name);
    Py_XDECREF(server);
    Py_DECREF(apache);
}

static mp_interp *new_record(const char *name)
{
    mp_interp *in = apr_pcalloc(rt.pool, sizeof(*in));
    in->name = apr_pstrdup(rt.pool, name);
    if (apr_threadkey_private_create(&in->tstate_key, NULL, rt.pool) != APR_SUCCESS)
        return NULL;
    return in;
}

static PyThreadState *thread_state(mp_interp *in)
{
    void *ts = NULL;
    if (apr_threadkey_private_get(&ts, in->tstate_key) != APR_SUCCESS)
        return NULL;
    if (!ts) {
        ts = PyThreadState_New(in->istate);
        if (!ts || apr_threadkey_private_set(ts, in->tstate_key) != APR_SUCCESS)
            return NULL;
    }
    return ts;
}

/* Which Python to run: PythonHome (a prefix or a virtualenv) or the one built against. */
static PyStatus configure_paths(PyConfig *config, apr_pool_t *p)
{
    const char *home = mp_globals_config.python_home;
    apr_finfo_t fi;
    if (home) {
        const char *cfg = apr_pstrcat(p, home, "/pyvenv.cfg", NULL);
        if (apr_stat(&fi, cfg, APR_FINFO_TYPE, p) == APR_SUCCESS) {
            /* a virtualenv: Python finds its base and site-packages from pyvenv.cfg */
            const char *exe = apr_pstrcat(p, home, "/bin/python3", NULL);
            return PyConfig_SetBytesString(config, &config->program_name, exe);
        }
        return PyConfig_SetBytesString(config, &config->home, home);
    }
    return PyConfig_SetBytesString(config, &config->program_name, MP_PYTHON_EXECUTABLE);
}

static apr_status_t python_fini(void *data);

/*
 * prefork's children die from their SIGHUP/SIGTERM handler, which destroys the
 * child pool right there: a signal handler may have interrupted malloc, and
 * finalising Python then corrupts the heap.  While a handler runs, its signal
 * is blocked; that is how we tell.
 */
static int exiting_from_signal_handler(void)
{
    sigset_t set;
    int threaded = 0;
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS
        && threaded != AP_MPMQ_NOT_SUPPORTED)
        return 0;  /* threaded MPMs end children from their main loop */
    if (pthread_sigmask(SIG_BLOCK, NULL, &set) != 0)
        return 0;
    return sigismember(&set, SIGHUP) == 1 || sigismember(&set, SIGTERM) == 1;
}

int mp_python_init(apr_pool_t *pchild, server_rec *s)
{
    PyConfig config;
    PyStatus status;
    mp_interp *main_in;

    rt.pool = pchild;
    rt.server = s;
    if (apr_thread_mutex_create(&rt.lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_python: cannot create a mutex");
        return -1;
    }
    if (PyImport_AppendInittab("_apache", mp_init_apache_module) < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_python: cannot register _apache");
        return -1;
    }

    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;   /* signals belong to Apache */
    config.parse_argv = 0;
    config.optimization_level = mp_globals_config.optimize ? 1 : 0;
    status = configure_paths(&config, pchild);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_python: Python %s could not start: %s%s%s", PY_VERSION,
                     status.func ? status.func : "", status.func ? ": " : "",
                     status.err_msg ? status.err_msg : "unknown error");
        return -1;
    }

    main_in = new_record(MP_MAIN_INTERPRETER);
    if (!main_in) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_python: cannot create a thread key");
        PyEval_SaveThread();
        return -1;
    }
    main_in->istate = PyThreadState_Get()->interp;
    if (apr_threadkey_private_set(PyThreadState_Get(), main_in->tstate_key) != APR_SUCCESS) {
        PyEval_SaveThread();
        return -1;
    }
    setup_interpreter(main_in, s);
    rt.interps = main_in;
    PyEval_SaveThread();

    apr_pool_cleanup_register(pchild, NULL, python_fini, apr_pool_cleanup_null);
    rt.ready = 1;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_python: Python %s initialised in pid %d",
                 PY_VERSION, (int)getpid());
    return 0;
}

/* Create the sub-interpreter `name`; called with rt.lock held and no GIL. */
static mp_interp *create_interpreter(const char *name, server_rec *s)
{
    mp_interp *in = new_record(name), *last;
    PyThreadState *main_ts = thread_state(rt.interps), *sub;

    if (!in || !main_ts)
        return NULL;
    PyEval_RestoreThread(main_ts);
    sub = Py_NewInterpreter();
    if (!sub) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_python: cannot create interpreter '%s'", name);
        PyEval_SaveThread();
        return NULL;
    }
    in->istate = sub->interp;
    if (apr_threadkey_private_set(sub, in->tstate_key) != APR_SUCCESS) {
        PyEval_SaveThread();
        return NULL;
    }
    setup_interpreter(in, s);
    PyEval_SaveThread();
    for (last = rt.interps; last->next; last = last->next)
        ;
    last->next = in;
    return in;
}

mp_interp *mp_acquire(const char *name, server_rec *s)
{
    mp_interp *in;
    PyThreadState *ts;

    if (!rt.ready)
        return NULL;
    if (!name)
        name = MP_MAIN_INTERPRETER;
    apr_atomic_inc32(&rt.busy);
    if (apr_thread_mutex_lock(rt.lock) != APR_SUCCESS)
        return NULL;
    for (in = rt.interps; in; in = in->next)
        if (strcmp(in->name, name) == 0)
            break;
    if (!in)
        in = create_interpreter(name, s);
    apr_thread_mutex_unlock(rt.lock);
    if (!in || !(ts = thread_state(in))) {
        apr_atomic_dec32(&rt.busy);
        return NULL;
    }
    PyEval_RestoreThread(ts);
    return in;
}

void mp_release(mp_interp *in)
{
    (void)in;
    PyEval_SaveThread();
    apr_atomic_dec32(&rt.busy);
}

/* With the GIL held in `in`: run its exit hook, drop our references. */
static void leave_interpreter(mp_interp *in)
{
    PyObject *apache = PyImport_ImportModule("mod_python.apache");
    if (apache) {
        if (PyObject_HasAttrString(apache, "_child_exit")) {
            PyObject *res = PyObject_CallMethod(apache, "_child_exit", NULL);
            if (!res)
                mp_log_exception(rt.server, NULL, "running child exit cleanups");
            Py_XDECREF(res);
        }
        Py_DECREF(apache);
    }
    else {
        PyErr_Clear();
    }
    Py_CLEAR(in->dispatch);
    Py_CLEAR(in->c_module);
}

/* Thread states of other (finished) Apache threads must go before Py_EndInterpreter. */
static void drop_other_thread_states(PyInterpreterState *istate, PyThreadState *keep)
{
    PyThreadState *t = PyInterpreterState_ThreadHead(istate);
    while (t) {
        PyThreadState *next = PyThreadState_Next(t);
        if (t != keep) {
            PyThreadState_Clear(t);
            PyThreadState_Delete(t);
        }
        t = next;
    }
}

static apr_status_t python_fini(void *data)
{
    mp_interp *in;
    PyThreadState *main_ts;
    (void)data;

    if (!rt.ready)
        return APR_SUCCESS;
    rt.ready = 0;
    /*
     * prefork ends a child from its SIGHUP/SIGTERM handler, possibly while this
     * very thread is inside Python: finalising then would corrupt the heap or
     * deadlock on the GIL.  The process is going away; let it.
     */
    if (apr_atomic_read32(&rt.busy) > 0 || exiting_from_signal_handler()) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt.server,
                     "mod_python: child %d is killed (or Python is running); "
                     "not finalising Python",
                     (int)getpid());
        return APR_SUCCESS;
    }
    main_ts = thread_state(rt.interps);
    if (!main_ts)
        return APR_SUCCESS;
    PyEval_RestoreThread(main_ts);
    for (in = rt.interps->next; in; in = in->next) {
        PyThreadState *ts = thread_state(in);
        if (!ts)
            continue;
        PyThreadState_Swap(ts);
        leave_interpreter(in);
        drop_other_thread_states(in->istate, ts);
        Py_EndInterpreter(ts);
        PyThreadState_Swap(main_ts);
    }
    leave_interpreter(rt.interps);
    if (Py_FinalizeEx() < 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt.server,
                     "mod_python: errors while finalising Python (flushing buffered data)");
    else
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt.server,
                     "mod_python: Python finalised in pid %d", (int)getpid());
    return APR_SUCCESS;
}
