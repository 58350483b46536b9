/*
 * mutex.c -- the global mutexes (manual 2.3.2 "Mutex Directory" and "Mutex
 * Locks"; sessions lock with them, 4.8).
 *
 * The parent makes N APR global mutexes at post_config, each child
 * re-attaches them at child_init, and Python reaches them through
 * _apache._global_lock / _global_trylock / _global_unlock.  The mechanism is
 * flock() on one lock file per mutex in the mutex directory, named
 * mod_python.<parent pid>.<random>.<n>.lock so that two Apaches sharing a
 * directory never meet (not even from two pid namespaces).  APR removes the
 * files when the configuration pool goes, at stop or restart; in one-process
 * mode (httpd -X), which exits without destroying that pool, the child pool
 * removes them.
 *
 * Lock 0 is reserved for whole-store locks (a session DBM file); a key is
 * hashed onto locks 1..N-1 (onto 0 when N is 1).  The hash is FNV-1a of the
 * key's bytes, the same in every process: Python's hash() of a str is
 * randomised per process and would send one key to different locks.
 */
#include "mp_mutex.h"
#include "mp_config.h"
#include "mp_apache.h"
#include "apr_atomic.h"
#include "apr_global_mutex.h"
#include "unixd.h"

typedef struct {
    apr_global_mutex_t *mutex;
    const char *fname;
    /* Written only by the thread holding the mutex: lets a thread that does
     * not hold it be refused unlock() instead of corrupting the mutex, and a
     * thread that holds it be refused a second lock() instead of deadlocking. */
    volatile apr_uint32_t held;
#if APR_HAS_THREADS
    apr_os_thread_t owner;
#endif
} mp_lock;

static struct {
    int count;          /* 0 until post_config made them (and again once they are gone) */
    int attached;       /* child_init re-attached them in this process */
    pid_t creator;      /* the process that made them (the parent, or httpd -X) */
    mp_lock *locks;
    const char *directory;
} mx;

#define OPT_DIRECTORY "mod_python.mutex_directory"
#define OPT_LOCKS "mod_python.mutex_locks"

static apr_status_t mutexes_gone(void *data)
{
    (void)data;
    mx.count = 0;
    mx.attached = 0;
    mx.locks = NULL;
    return APR_SUCCESS;
}

#if APR_HAS_FLOCK_SERIALIZE
#define MP_MUTEX_MECH APR_LOCK_FLOCK
#define MP_MUTEX_MECH_NAME "flock"
#elif APR_HAS_FCNTL_SERIALIZE
#define MP_MUTEX_MECH APR_LOCK_FCNTL
#define MP_MUTEX_MECH_NAME "fcntl"
#else
#define MP_MUTEX_MECH APR_LOCK_DEFAULT
#define MP_MUTEX_MECH_NAME "default"
#endif

static apr_status_t set_mutex_perms(apr_global_mutex_t *m)
{
#if MP_HTTPD_24
    return ap_unixd_set_global_mutex_perms(m);
#else
    return unixd_set_global_mutex_perms(m);
#endif
}

static int mutex_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    static const char first_pass_key[] = "mod_python_mutex_first_pass";
    const mp_dir_config *dc = mp_dir_conf(s->lookup_defaults);
    const char *dir = apr_table_get(dc->options, OPT_DIRECTORY);
    const char *nstr = apr_table_get(dc->options, OPT_LOCKS);
    void *seen = NULL;
    apr_finfo_t fi;
    apr_status_t rv;
    long n = MP_MUTEX_LOCKS;
    unsigned char random[4];
    const char *token;
    int i;
    (void)plog;

    /* Apache reads its configuration twice at start: make the mutexes in the second pass. */
    apr_pool_userdata_get(&seen, first_pass_key, s->process->pool);
    if (!seen) {
        apr_pool_userdata_set((const void *)1, first_pass_key, apr_pool_cleanup_null,
                              s->process->pool);
        return OK;
    }

    if (nstr) {
        char *end = NULL;
        errno = 0;
        n = strtol(nstr, &end, 10);
        if (errno || end == nstr || *end || n < 1 || n > MP_MUTEX_LOCKS_MAX) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "mod_python: PythonOption " OPT_LOCKS " '%s' is not a number of "
                         "locks from 1 to %d", nstr, MP_MUTEX_LOCKS_MAX);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    dir = ap_server_root_relative(pconf, dir ? dir : MP_MUTEX_DIR);
    if (!dir) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_python: PythonOption " OPT_DIRECTORY " is not a valid path");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp);
    if (rv != APR_SUCCESS || fi.filetype != APR_DIR) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "mod_python: the mutex directory '%s' (PythonOption " OPT_DIRECTORY
                     ") is not a directory", dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (apr_generate_random_bytes(random, sizeof(random)) == APR_SUCCESS)
        token = apr_psprintf(ptemp, "%02x%02x%02x%02x", random[0], random[1], random[2],
                             random[3]);
    else
        token = apr_psprintf(ptemp, "%" APR_TIME_T_FMT, apr_time_now());
    mx.locks = apr_pcalloc(pconf, sizeof(mp_lock) * (apr_size_t)n);
    mx.creator = getpid();
    mx.directory = dir;
    mx.count = 0;
    mx.attached = 0;
    apr_pool_cleanup_register(pconf, NULL, mutexes_gone, apr_pool_cleanup_null);
    for (i = 0; i < n; i++) {
        mp_lock *l = &mx.locks[i];
        char *fname;
        if (apr_filepath_merge(&fname, dir,
                               apr_psprintf(ptemp, "mod_python.%" APR_PID_T_FMT ".%s.%d.lock",
                                            mx.creator, token, i),
                               APR_FILEPATH_NOTRELATIVE, pconf) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "mod_python: cannot name a lock file in '%s'", dir);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        l->fname = fname;
        rv = apr_global_mutex_create(&l->mutex, fname, MP_MUTEX_MECH, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "mod_python: cannot create global mutex %d of %ld (%s)", i, n, fname);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = set_mutex_perms(l->mutex);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "mod_python: cannot give the child processes' user access to "
                         "global mutex %s", fname);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        mx.count = i + 1;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "mod_python: %d global mutexes (" MP_MUTEX_MECH_NAME ") in %s", mx.count, dir);
    return OK;
}

/* httpd -X: the process that made the lock files exits without destroying pconf. */
static apr_status_t remove_lock_files(void *data)
{
    int i;
    (void)data;
    for (i = 0; i < mx.count; i++)
        (void)apr_file_remove(mx.locks[i].fname, NULL);
    return APR_SUCCESS;
}

static void mutex_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;
    if (mx.count && getpid() == mx.creator)
        apr_pool_cleanup_register(pchild, NULL, remove_lock_files, apr_pool_cleanup_null);
    for (i = 0; i < mx.count; i++) {
        apr_status_t rv = apr_global_mutex_child_init(&mx.locks[i].mutex, mx.locks[i].fname,
                                                      pchild);
        if (rv != APR_SUCCESS) {
            /* A child of a generation that a graceful restart has just
             * replaced can start after the new generation removed the old
             * lock files; it exits without serving, so that is no crisis. */
            int gone = APR_STATUS_IS_ENOENT(rv);
            ap_log_error(APLOG_MARK, gone ? APLOG_WARNING : APLOG_CRIT, rv, s,
                         "mod_python: cannot attach global mutex %s in pid %d; "
                         "apache._global_lock() will fail in this process%s",
                         mx.locks[i].fname, (int)getpid(),
                         gone ? " (its lock file is gone: a child of a generation a restart"
                                " replaced, or the file was removed)" : "");
            return;
        }
    }
    mx.attached = 1;
}

void mp_mutex_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(mutex_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* before mod_python's own child_init, which runs PythonImport code */
    ap_hook_child_init(mutex_child_init, NULL, NULL, APR_HOOK_FIRST);
}

/* ------------------------------------------------------------------ Python */

static int held_here(mp_lock *l)
{
    if (!apr_atomic_read32(&l->held))
        return 0;
#if APR_HAS_THREADS
    {
        apr_os_thread_t me = apr_os_thread_current();
        return apr_os_thread_equal(l->owner, me);
    }
#else
    return 1;
#endif
}

static apr_uint32_t fnv1a(const unsigned char *p, Py_ssize_t len)
{
    apr_uint32_t h = 2166136261u;
    Py_ssize_t i;
    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* The lock for (server, key, index): NULL with an exception set on bad arguments. */
static mp_lock *choose_lock(PyObject *module, PyObject *args, PyObject *kw, const char *fname,
                            int *index_out)
{
    static char *kwlist[] = {"server", "key", "index", NULL};
    mp_module_state *st = mp_state_of(module);
    PyObject *server, *key;
    int index = -1;
    char format[32];

    if (!st)
        return NULL;
    apr_snprintf(format, sizeof(format), "OO|i:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, format, kwlist, &server, &key, &index))
        return NULL;
    if (!mp_server_rec_of(st, server))
        return NULL;
    if (!mx.count || !mx.attached) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s(): mod_python's global mutexes are not available in this process "
                     "(see the error log)", fname);
        return NULL;
    }
    if (index >= 0) {
        if (index >= mx.count) {
            PyErr_Format(PyExc_ValueError,
                         "%s(): lock index %d is out of range: there are %d global locks "
                         "(0 to %d; PythonOption " OPT_LOCKS " sets how many)",
                         fname, index, mx.count, mx.count - 1);
            return NULL;
        }
    }
    else if (index != -1) {
        PyErr_Format(PyExc_ValueError, "%s(): index must be -1 (choose by key) or a lock "
                     "number from 0, not %d", fname, index);
        return NULL;
    }
    else {
        const char *data;
        Py_ssize_t len;
        if (PyUnicode_Check(key)) {
            if (!(data = PyUnicode_AsUTF8AndSize(key, &len)))
                return NULL;
        }
        else if (PyBytes_Check(key)) {
            data = PyBytes_AS_STRING(key);
            len = PyBytes_GET_SIZE(key);
        }
        else if (key == Py_None) {
            PyErr_Format(PyExc_ValueError, "%s(): give a key or a lock index", fname);
            return NULL;
        }
        else {
            PyErr_Format(PyExc_TypeError, "%s(): the key must be str or bytes, not %.100s",
                         fname, Py_TYPE(key)->tp_name);
            return NULL;
        }
        index = mx.count > 1
                    ? 1 + (int)(fnv1a((const unsigned char *)data, len)
                                % (apr_uint32_t)(mx.count - 1))
                    : 0;
    }
    *index_out = index;
    return &mx.locks[index];
}

static void note_taken(mp_lock *l)
{
#if APR_HAS_THREADS
    l->owner = apr_os_thread_current();
#endif
    apr_atomic_set32(&l->held, 1);
}

static PyObject *lock_error(const char *fname, int index, apr_status_t rv)
{
    char buf[256];
    PyErr_Format(PyExc_OSError, "%s(): global lock %d (%s): %s", fname, index,
                 mx.locks[index].fname, apr_strerror(rv, buf, sizeof(buf)));
    return NULL;
}

PyObject *mp_global_lock(PyObject *module, PyObject *args, PyObject *kw)
{
    int index;
    apr_status_t rv;
    mp_lock *l = choose_lock(module, args, kw, "_global_lock", &index);
    if (!l)
        return NULL;
    if (held_here(l)) {
        PyErr_Format(PyExc_RuntimeError, "_global_lock(): this thread already holds global "
                     "lock %d (the locks are not re-entrant)", index);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rv = apr_global_mutex_lock(l->mutex);
    Py_END_ALLOW_THREADS
    if (rv != APR_SUCCESS)
        return lock_error("_global_lock", index, rv);
    note_taken(l);
    Py_RETURN_NONE;
}

PyObject *mp_global_trylock(PyObject *module, PyObject *args, PyObject *kw)
{
    int index;
    apr_status_t rv;
    mp_lock *l = choose_lock(module, args, kw, "_global_trylock", &index);
    if (!l)
        return NULL;
    if (held_here(l))
        Py_RETURN_FALSE;
    Py_BEGIN_ALLOW_THREADS
    rv = apr_global_mutex_trylock(l->mutex);
    Py_END_ALLOW_THREADS
    if (APR_STATUS_IS_EBUSY(rv))
        Py_RETURN_FALSE;
    if (rv != APR_SUCCESS)
        return lock_error("_global_trylock", index, rv);
    note_taken(l);
    Py_RETURN_TRUE;
}

PyObject *mp_global_unlock(PyObject *module, PyObject *args, PyObject *kw)
{
    int index;
    apr_status_t rv;
    mp_lock *l = choose_lock(module, args, kw, "_global_unlock", &index);
    if (!l)
        return NULL;
    if (!held_here(l)) {
        PyErr_Format(PyExc_RuntimeError,
                     "_global_unlock(): global lock %d is not held by this thread", index);
        return NULL;
    }
    apr_atomic_set32(&l->held, 0);
    rv = apr_global_mutex_unlock(l->mutex);
    if (rv != APR_SUCCESS)
        return lock_error("_global_unlock", index, rv);
    Py_RETURN_NONE;
}
