/*
 * connection.c -- PythonConnectionHandler (manual 4.4, 5.3.1).
 *
 * A process_connection hook that runs before HTTP's: when the server the
 * connection came in on (c->base_server, the virtual host of its address
 * and port) has a PythonConnectionHandler, the handler gets a connection
 * object and speaks whatever protocol it likes.  OK (or anything but
 * DECLINED) means it handled the connection, which Apache then closes;
 * DECLINED lets HTTP process the connection as usual.
 */
#include "mp_connection.h"
#include "http_connection.h"
#include "mp_interp.h"
#include "mp_apache.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>

const char *mp_cmd_connection_handler(cmd_parms *cmd, void *mconfig, const char *spec)
{
    mp_srv_config *conf = mp_srv_conf(cmd->server);
    mp_named_handler *h;
    const char *sep = strstr(spec, "::");
    (void)mconfig;

    if (!*spec || sep == spec)
        return "PythonConnectionHandler needs a module name or an absolute path to a "
               "module file, optionally followed by ::callable";
    if (sep && !sep[2])
        return apr_pstrcat(cmd->pool, "PythonConnectionHandler ", spec,
                           ": nothing follows '::' (name the callable, or leave '::' out for "
                           "connectionhandler)", NULL);
    if (spec[0] != '/' && strchr(spec, '/') && (!sep || strchr(spec, '/') < sep))
        return apr_pstrcat(cmd->pool, "PythonConnectionHandler ", spec,
                           ": a module file must be given by its absolute path; a module on "
                           "sys.path by its dotted name", NULL);
    h = apr_pcalloc(cmd->pool, sizeof(*h));
    h->spec = apr_pstrdup(cmd->pool, spec);
    h->name = NULL;
    h->directory = NULL;
    conf->connection_handler = h;
    return NULL;
}

/* The server-level Python* settings (PythonPath, PythonAutoReload...) as a dict. */
static PyObject *server_directives(server_rec *s)
{
    const mp_dir_config *dconf = mp_dir_conf(s->lookup_defaults);
    const apr_array_header_t *arr = apr_table_elts(dconf->directives);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    PyObject *d = PyDict_New();
    int i;

    for (i = 0; d && i < arr->nelts; i++) {
        PyObject *k = mp_str_or_none(e[i].key), *v = mp_str_or_none(e[i].val);
        if (!k || !v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return d;
}

/* The handler's interpreter: PythonInterpreter at server level, else the server's name. */
static const char *interpreter_name(server_rec *s)
{
    const mp_dir_config *dconf = mp_dir_conf(s->lookup_defaults);
    if (dconf->interpreter)
        return dconf->interpreter;
    return s->server_hostname ? s->server_hostname : MP_MAIN_INTERPRETER;
}

/* With the GIL held in `in`: run the handler; DECLINED or OK. */
static int run_handler(conn_rec *c, mp_interp *in, const mp_named_handler *h)
{
    server_rec *s = c->base_server;
    mp_module_state *st = mp_state_of(in->c_module);
    PyObject *apache = NULL, *fn = NULL, *conn = NULL, *spec = NULL, *dir = NULL;
    PyObject *config = NULL, *res = NULL;
    int status = OK;
    long v;

    if (!st || !(apache = PyImport_ImportModule("mod_python.apache"))
        || !(fn = PyObject_GetAttrString(apache, "_dispatch_connection"))
        || !(conn = mp_conn_wrap(st, c, NULL, NULL)) || !(spec = mp_path_or_none(h->spec))
        || !(dir = mp_path_or_none(h->directory)) || !(config = server_directives(s)))
        goto error;
    res = PyObject_CallFunctionObjArgs(fn, conn, spec, dir, config, NULL);
    if (!res)
        goto error;
    v = PyLong_AsLong(res);
    if (v == -1 && PyErr_Occurred())
        goto error;
    status = v == DECLINED ? DECLINED : OK;
    goto done;
error:
    mp_log_exception(s, NULL, apr_psprintf(c->pool, "PythonConnectionHandler %s", h->spec));
    status = OK;
done:
    /* Nothing may reach the conn_rec through this object any more. */
    if (conn)
        mp_conn_invalidate(conn);
    Py_XDECREF(res);
    Py_XDECREF(config);
    Py_XDECREF(dir);
    Py_XDECREF(spec);
    Py_XDECREF(conn);
    Py_XDECREF(fn);
    Py_XDECREF(apache);
    return status;
}

#define HANDLED_KEY "mod_python:connection-handler-ran"

/*
 * Is this the "internal dummy connection" with which Apache's parent wakes
 * a child blocked in accept() (prefork's idle maintenance, restarts)?  It
 * carries one fixed request and is dropped by its sender at once, so it is
 * closed here rather than given to the handler.  The request is peeked at
 * on the socket, consuming nothing; it must be all there is, so a client
 * imitating it gets nothing but a closed connection.  On Linux an "http"
 * listener only accepts once data has arrived (AcceptFilter), which makes
 * the check reliable there; elsewhere it catches what has arrived in time.
 */
static int is_dummy_connection(conn_rec *c)
{
#if defined(MSG_PEEK) && defined(MSG_DONTWAIT)
    static const char head[] = "OPTIONS * HTTP/1.0\r\nUser-Agent: ";
    static const char tail[] = " (internal dummy connection)\r\n\r\n";
    const apr_size_t hlen = sizeof(head) - 1, tlen = sizeof(tail) - 1;
    apr_socket_t *sock = MP_CONN_SOCKET(c);
    apr_os_sock_t fd;
    char buf[1024];
    ssize_t n;
    apr_size_t i;

    if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS)
        return 0;
    do
        n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (apr_size_t)n < hlen + tlen || memcmp(buf, head, hlen) != 0
        || memcmp(buf + n - tlen, tail, tlen) != 0)
        return 0;
    for (i = hlen; i < (apr_size_t)n - tlen; i++)
        if (buf[i] == '\r' || buf[i] == '\n')
            return 0;
    return 1;
#else
    (void)c;
    return 0;
#endif
}

static int process_connection(conn_rec *c)
{
    server_rec *s = c->base_server;
    const mp_named_handler *h = mp_srv_conf(s)->connection_handler;
    const char *name;
    mp_interp *in;
    void *seen = NULL;
    int status;

    if (!h)
        return DECLINED;
    /*
     * Once per connection: the event MPM runs process_connection again for
     * each request of a kept-alive connection that a handler declined.
     */
    if (apr_pool_userdata_get(&seen, HANDLED_KEY, c->pool) != APR_SUCCESS || seen)
        return DECLINED;
    if (apr_pool_userdata_setn(HANDLED_KEY, HANDLED_KEY, NULL, c->pool) != APR_SUCCESS)
        return DECLINED;
    if (is_dummy_connection(c)) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c,
                      "mod_python: closing Apache's internal dummy connection instead of "
                      "running PythonConnectionHandler %s", h->spec);
        if (c->cs)
            c->cs->state = CONN_STATE_LINGER;
        return OK;
    }
    name = interpreter_name(s);
    in = mp_acquire(name, s);
    if (!in || !in->c_module) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c,
                      "mod_python: no Python interpreter '%s' for PythonConnectionHandler %s "
                      "(see earlier errors); closing the connection", name, h->spec);
        if (in)
            mp_release(in);
        status = OK;
    }
    else {
        status = run_handler(c, in, h);
        mp_release(in);
    }
    if (status == OK && c->cs)
        c->cs->state = CONN_STATE_LINGER;  /* handled: the MPM closes it */
    return status;
}

void mp_register_connection_hooks(apr_pool_t *p)
{
    (void)p;
    /* before HTTP's own handler, which runs APR_HOOK_REALLY_LAST */
    ap_hook_process_connection(process_connection, NULL, NULL, APR_HOOK_MIDDLE);
}
