/*
 * mp_mutex.h -- the global mutexes shared by every Apache child (manual
 * 2.3.2 "Mutex Directory" / "Mutex Locks"; sessions lock with them, 4.8).
 */
#ifndef MP_MUTEX_H
#define MP_MUTEX_H

#include "mp_common.h"

/* Compile-time defaults, like 3.3's ./configure --with-mutex-dir / --with-max-locks. */
#ifndef MP_MUTEX_DIR
#define MP_MUTEX_DIR "/tmp"
#endif
#ifndef MP_MUTEX_LOCKS
#define MP_MUTEX_LOCKS 8
#endif
/* More than this many locks is a configuration error (each costs a descriptor per child). */
#define MP_MUTEX_LOCKS_MAX 1024

/* post_config creates the mutexes in the parent, child_init re-attaches them. */
void mp_mutex_register_hooks(apr_pool_t *p);

/* _apache._global_lock(server, key, index=-1) and friends (module functions). */
PyObject *mp_global_lock(PyObject *module, PyObject *args, PyObject *kw);
PyObject *mp_global_trylock(PyObject *module, PyObject *args, PyObject *kw);
PyObject *mp_global_unlock(PyObject *module, PyObject *args, PyObject *kw);

#endif /* MP_MUTEX_H */
