/*
 * mp_imports.h -- PythonImport (manual 5.4.3): modules imported into named
 * interpreters when a child starts.
 */
#ifndef MP_IMPORTS_H
#define MP_IMPORTS_H

#include "mp_common.h"

/* Run every PythonImport of the configuration; Python is initialised, no GIL held. */
void mp_run_imports(apr_pool_t *pchild, server_rec *s);

#endif /* MP_IMPORTS_H */
