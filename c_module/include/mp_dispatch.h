/*
 * mp_dispatch.h -- running the Python handlers of a request phase.
 */
#ifndef MP_DISPATCH_H
#define MP_DISPATCH_H

#include "mp_config.h"

/* Run the handlers configured for `phase`; returns Apache's status for the phase. */
int mp_run_phase(request_rec *r, mp_phase phase);

/* Make sure the request's Python state is torn down (and cleanup handlers run). */
void mp_request_state_ensure(request_rec *r);

/* The request object of `r` in interpreter `interp` (an mp_interp *), made if
 * need be; borrowed, GIL held.  For req.next / prev / main. */
PyObject *mp_request_object_for(request_rec *r, void *interp);

/* The interpreter name for code of `r` that no handler directive names (SSI). */
const char *mp_request_interpreter(request_rec *r);

/* req.add_handler() registered handlers for `phase` in `interp`. */
void mp_request_note_dynamic(request_rec *r, int phase, void *interp);

#endif
