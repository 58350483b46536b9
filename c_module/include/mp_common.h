/*
 * mp_common.h -- what every C file of mod_python includes first.
 *
 * Python.h must come before any system header (it fixes feature macros),
 * then Apache's headers.  The version macros that let one source build
 * against httpd 2.2 and 2.4 live here too.
 */
#ifndef MP_COMMON_H
#define MP_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>  /* offsetof: Python.h stopped providing it in 3.13 */

/* Python and Apache both define these from their configure runs. */
#undef _POSIX_C_SOURCE
#undef _XOPEN_SOURCE
#undef HAVE_STDLIB_H
#undef HAVE_STRING_H
#undef HAVE_UNISTD_H
#undef HAVE_SYS_TYPES_H
#undef HAVE_SYS_STAT_H
#undef HAVE_SYS_TIME_H
#undef HAVE_STRINGS_H
#undef HAVE_LIMITS_H
#undef HAVE_SYS_SOCKET_H
#undef HAVE_SYS_WAIT_H
#undef PACKAGE_NAME
#undef PACKAGE_STRING
#undef PACKAGE_TARNAME
#undef PACKAGE_VERSION
#undef PACKAGE_BUGREPORT
#undef PACKAGE_URL

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "ap_mmn.h"
#include "util_filter.h"
#include "util_script.h"
#include "apr_strings.h"
#include "apr_hash.h"
#include "apr_tables.h"
#include "apr_thread_proc.h"
#include "apr_thread_mutex.h"

#include "mp_version.h"

/* httpd 2.4 (MMN 20120211) renamed and added a few things. */
#if AP_MODULE_MAGIC_AT_LEAST(20111130, 0)
#define MP_HTTPD_24 1
#define MP_CONN_CLIENT_IP(c) ((c)->client_ip)
#define MP_CONN_CLIENT_ADDR(c) ((c)->client_addr)
#else
#define MP_HTTPD_24 0
#define MP_CONN_CLIENT_IP(c) ((c)->remote_ip)
#define MP_CONN_CLIENT_ADDR(c) ((c)->remote_addr)
#endif

#if MP_HTTPD_24
APLOG_USE_MODULE(python);
#else
/* 2.2 declares the main server record in mpm.h, which modules should not include. */
extern server_rec *ap_server_conf;
#endif

/* Python's member-type names moved in 3.12; keep one spelling here. */
#if PY_VERSION_HEX >= 0x030C0000
#define MP_T_PYSSIZET Py_T_PYSSIZET
#define MP_READONLY Py_READONLY
#else
#include <structmember.h>
#define MP_T_PYSSIZET T_PYSSIZET
#define MP_READONLY READONLY
#endif

#if PY_VERSION_HEX < 0x030A0000
/* Py_NewRef arrived in 3.10. */
static inline PyObject *mp_new_ref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#define Py_NewRef(o) mp_new_ref((PyObject *)(o))
#endif

extern module AP_MODULE_DECLARE_DATA python_module;

#define MP_MAIN_INTERPRETER "main_interpreter"

#endif /* MP_COMMON_H */
