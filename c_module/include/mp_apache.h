/*
 * mp_apache.h -- the built-in module _apache and the Python types it defines.
 *
 * Every type is a heap type created per interpreter from a PyType_Spec and
 * kept in the module's state, so interpreters share no Python object.
 */
#ifndef MP_APACHE_H
#define MP_APACHE_H

#include "mp_common.h"

typedef struct {
    PyTypeObject *request_type;
    PyTypeObject *table_type;
    PyTypeObject *server_type;
    PyTypeObject *conn_type;
    PyTypeObject *finfo_type;
    PyTypeObject *filter_type;
} mp_module_state;

/* Where a wrapped Apache structure lives: `*alive` turns NULL when it is gone. */
typedef void *const *mp_alive_t;

typedef struct {
    PyObject_HEAD
    request_rec *r;             /* NULL once the request is over */
    PyObject *dict;
    PyObject *headers_in, *headers_out, *err_headers_out, *subprocess_env, *notes;
    PyObject *server, *connection;
    PyObject *phase, *interpreter;
    PyObject *cleanups;         /* [(callable, data)] from req.register_cleanup() */
    PyObject *dynamic;          /* {phase: [handler entries]} from req.add_handler() */
    PyObject *hlist;            /* the handler being run, set by the dispatcher */
    void *interp;               /* the mp_interp this object lives in */
    int cleanups_started;
    int content_type_set;
    int read_started, read_eof;
    char *rbuf;                 /* bytes read ahead by readline() */
    apr_size_t rbuf_len, rbuf_pos, rbuf_cap;
} mp_request_object;

PyObject *mp_init_apache_module(void);
mp_module_state *mp_state_of(PyObject *c_module);

/* The _apache module object of the running interpreter (borrowed). */
extern PyModuleDef mp_apache_moduledef;

/* Types: each file holds one. */
extern PyType_Spec mp_request_spec;
extern PyType_Spec mp_table_spec;
extern PyType_Spec mp_server_spec;
extern PyType_Spec mp_conn_spec;
extern PyType_Spec mp_finfo_spec;
extern PyType_Spec mp_filter_spec;   /* filterobject.c, see mp_filter.h */

/* finfo objects: a copy of an apr_finfo_t; copy_to puts one back into Apache. */
PyObject *mp_finfo_wrap(mp_module_state *st, const apr_finfo_t *fi);
int mp_finfo_copy_to(mp_module_state *st, PyObject *o, apr_finfo_t *dest, apr_pool_t *p);

PyObject *mp_request_new(PyObject *c_module, request_rec *r, const char *interpreter);
void mp_request_set_phase(PyObject *req, PyObject *phase);
void mp_request_run_cleanups(PyObject *req);
void mp_request_invalidate(PyObject *req);

/* Wrap an Apache table; `owner` is kept alive and `alive` checked before each use. */
PyObject *mp_table_wrap(mp_module_state *st, apr_table_t *t, apr_pool_t *pool,
                        PyObject *owner, mp_alive_t alive);
PyObject *mp_table_new_standalone(mp_module_state *st);

PyObject *mp_server_new(PyObject *c_module, server_rec *s);
PyObject *mp_server_wrap(mp_module_state *st, server_rec *s);
server_rec *mp_server_rec_of(mp_module_state *st, PyObject *o);
PyObject *mp_conn_wrap(mp_module_state *st, conn_rec *c, PyObject *owner, mp_alive_t alive);
/* owner NULL makes a connection handler's object (read/write allowed) that
 * lives until mp_conn_invalidate(), called before the conn_rec goes. */
void mp_conn_invalidate(PyObject *conn);

/* Text conventions (DESIGN.md): header-like strings are ISO-8859-1, paths use the fs encoding. */
PyObject *mp_str_or_none(const char *s);
PyObject *mp_path_or_none(const char *s);
/* An apr array of char * as a tuple of str (NULL array: empty tuple). */
PyObject *mp_str_array_tuple(const apr_array_header_t *arr);
const char *mp_latin1_copy(apr_pool_t *p, PyObject *o, const char *what);
const char *mp_path_copy(apr_pool_t *p, PyObject *o, const char *what);

#endif /* MP_APACHE_H */
