/*
 * mp_interp.h -- the Python runtime of one Apache child: the main interpreter,
 * named sub-interpreters, and one thread state per (thread, interpreter).
 */
#ifndef MP_INTERP_H
#define MP_INTERP_H

#include "mp_common.h"

typedef struct mp_interp {
    const char *name;
    PyInterpreterState *istate;
    apr_threadkey_t *tstate_key;  /* this thread's PyThreadState for this interpreter */
    PyObject *c_module;           /* _apache as imported in this interpreter */
    PyObject *dispatch;           /* mod_python.apache._dispatch, NULL if it failed */
    struct mp_interp *next;
} mp_interp;

/* Initialise Python in this child; the GIL is released on return. */
int mp_python_init(apr_pool_t *pchild, server_rec *s);

/* Python is running in this process (child_init succeeded). */
int mp_python_ready(void);

/*
 * Take the GIL in the named interpreter (created on first use) with this
 * thread's own thread state.  Returns NULL when Python cannot run.
 */
mp_interp *mp_acquire(const char *name, server_rec *s);
void mp_release(mp_interp *interp);

/* Log the pending Python exception, a line of the error log per traceback line. */
void mp_log_exception(server_rec *s, request_rec *r, const char *what);

#endif /* MP_INTERP_H */
